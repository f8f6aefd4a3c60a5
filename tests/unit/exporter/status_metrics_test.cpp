// MapStatus: the management API's documents -> the contract metrics (docs/metrics.md, "Status
// metrics"). The documents are the examples of docs/status-api.md, read from the doc itself so the
// test follows it; failure cases are those examples, damaged one way each.
#include "exporter/status_metrics.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

namespace outpost::exporter {
namespace {

using Json = nlohmann::json;

// The JSON block after "<!-- example: NAME -->" in docs/status-api.md.
Json DocExample(const std::string& name) {
  std::ifstream in(std::string(OUTPOST_SOURCE_DIR) + "/docs/status-api.md");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  const std::string marker = "<!-- example: " + name + " -->";
  auto at = text.find(marker);
  if (at == std::string::npos) return Json();
  auto begin = text.find("```json\n", at);
  auto end = text.find("```", begin + 8);
  if (begin == std::string::npos || end == std::string::npos) return Json();
  return Json::parse(text.substr(begin + 8, end - begin - 8));
}

FetchResult Ok(const Json& doc, int status = 200) {
  FetchResult r;
  r.http_status = status;
  r.body = doc.dump();
  return r;
}

FetchResult Body(const std::string& body, int status = 200) {
  FetchResult r;
  r.http_status = status;
  r.body = body;
  return r;
}

FetchResult Transport(StatusErrorReason reason) {
  FetchResult r;
  r.transport_error = reason;
  r.detail = "test";
  return r;
}

StatusFetches ExampleFetches() {
  StatusFetches f;
  f.status = Ok(DocExample("status"));
  f.queues = Ok(DocExample("queues"));
  f.vmtas = Ok(DocExample("vmtas"));
  f.ready = Ok(Json{{"ready", true}, {"reasons", Json::array()}});
  return f;
}

// The value of `name` with label `label`=`value` (or without labels), if exported.
std::optional<double> Value(const StatusMapping& m, const std::string& name,
                            const std::string& label = "", const std::string& value = "") {
  for (const auto& f : m.families) {
    if (f.name != name) continue;
    for (const auto& s : f.metric) {
      const bool match = label.empty() ? s.label.empty()
                                       : (s.label.size() == 1 && s.label[0].name == label &&
                                          s.label[0].value == value);
      if (match) return f.type == prometheus::MetricType::Counter ? s.counter.value : s.gauge.value;
    }
  }
  return std::nullopt;
}

std::size_t SeriesOf(const StatusMapping& m, const std::string& name) {
  for (const auto& f : m.families) {
    if (f.name == name) return f.metric.size();
  }
  return 0;
}

TEST(StatusMetrics, DocExamplesGiveEveryContractMetric) {
  ASSERT_TRUE(DocExample("status").is_object()) << "docs/status-api.md example not found";
  StatusMapping m = MapStatus(ExampleFetches(), StatusMappingLimits{});
  ASSERT_TRUE(m.up) << m.error_text;
  EXPECT_TRUE(m.errors.empty()) << m.error_text;
  struct Want {
    const char* name;
    const char* label;
    const char* value;
    double expect;
  };
  const Want wants[] = {
      {"outpost_uptime_seconds", "", "", 0},
      {"outpost_queue_recipients", "", "", 26},
      {"outpost_queue_messages", "", "", 20},
      {"outpost_queue_recipients_by_vmta", "vmta", "vmta1", 26},
      {"outpost_queue_recipients_by_mode", "mode", "normal", 6},
      {"outpost_queue_recipients_by_mode", "mode", "backoff", 20},
      {"outpost_top_queue_recipients", "queue", "hotmail.com/vmta1", 20},
      {"outpost_top_queue_recipients", "queue", "yahoo.com/vmta1", 6},
      {"outpost_backoff_recipients", "", "", 20},
      {"outpost_backoff_queues", "", "", 1},
      {"outpost_queue_oldest_message_age_seconds", "", "", 840},
      {"outpost_queue_oldest_message_age_seconds_by_vmta", "vmta", "vmta1", 840},
      {"outpost_queue_backoff_seconds", "queue", "hotmail.com/vmta1", 0},
      {"outpost_connections", "direction", "in", 0},
      {"outpost_connections", "direction", "out", 0},
      {"outpost_traffic_messages_total", "direction", "in", 20},
      {"outpost_traffic_messages_total", "direction", "out", 33},
      {"outpost_traffic_recipients_total", "direction", "in", 60},
      {"outpost_traffic_recipients_total", "direction", "out", 33},
      {"outpost_traffic_bytes_total", "direction", "in", 4080},
      {"outpost_traffic_bytes_total", "direction", "out", 6731},
      {"outpost_process_resident_memory_bytes", "", "", 9736192},
      {"outpost_process_swap_bytes", "", "", 0},
      {"outpost_process_open_fds", "", "", 11},
      {"outpost_process_max_fds", "", "", 20000},
      {"outpost_process_cpu_seconds_total", "", "", 0.008},
      {"outpost_invariant_violations_total", "", "", 0},
      {"outpost_spool_entries", "", "", 20},
      {"outpost_spool_bytes", "", "", 7730},
      {"outpost_spool_live_bytes", "", "", 3865},
      {"outpost_spool_compactions_total", "", "", 2},
      {"outpost_spool_compaction_copied_bytes_total", "", "", 1048576},
      {"outpost_spool_compaction_reclaimed_bytes_total", "", "", 134217728},
      {"outpost_spool_compaction_errors_total", "", "", 0},
      {"outpost_spool_disk_used_bytes", "", "", 22918168576.0},
      {"outpost_spool_disk_free_bytes", "", "", 79827111936.0},
      {"outpost_dns_cache_entries", "", "", 0},
      {"outpost_dns_cache_hit_ratio", "", "", 0},
      {"outpost_config_reload_failures_total", "", "", 0},
      {"outpost_accounting_writable", "", "", 1},
      {"outpost_accounting_buffered_bytes", "", "", 0},
      {"outpost_accounting_write_errors_total", "", "", 0},
      {"outpost_accounting_held_recipients", "", "", 0},
      {"outpost_acct_webhook_records_behind", "feed", "/var/log/outpost/acct.csv", 0},
      {"outpost_acct_webhook_oldest_unsent_seconds", "feed", "/var/log/outpost/acct.csv", 0},
      {"outpost_acct_webhook_failures_total", "feed", "/var/log/outpost/acct.csv", 0},
      {"outpost_dkim_signed_total", "", "", 0},
      {"outpost_dkim_unsigned_no_key_total", "", "", 0},
      {"outpost_dkim_sign_failures_total", "", "", 0},
      {"outpost_domainkeys_signed_total", "", "", 0},
      {"outpost_domainkeys_sign_failures_total", "", "", 0},
      {"outpost_tls_fallbacks_total", "", "", 0},
      {"outpost_tls_failures_remembered", "", "", 0},
      {"outpost_8bit_converted_total", "", "", 0},
      {"outpost_8bit_refused_total", "", "", 0},
      {"outpost_alert_actions_active", "", "", 1},
      {"outpost_alert_actions_total", "", "", 3},
      {"outpost_alert_action_undos_total", "", "", 2},
      {"outpost_alert_action_failures_total", "", "", 0},
      {"outpost_ready", "", "", 1},
  };
  for (const Want& w : wants) {
    auto v = Value(m, w.name, w.label, w.value);
    ASSERT_TRUE(v) << w.name << "{" << w.label << "=" << w.value << "} missing";
    EXPECT_DOUBLE_EQ(*v, w.expect) << w.name << "{" << w.label << "=" << w.value << "}";
  }
  // Idle queues are not series. by_mode has paused; backoff queues say how long they have been.
  EXPECT_FALSE(Value(m, "outpost_top_queue_recipients", "queue", "gmail.com/vmta1"));
  auto paused = Value(m, "outpost_queue_recipients_by_mode", "mode", "paused");
  ASSERT_TRUE(paused);
  EXPECT_DOUBLE_EQ(*paused, 0);
  EXPECT_TRUE(Value(m, "outpost_queue_backoff_seconds", "queue", "hotmail.com/vmta1"));
  // Counters are typed as counters (promtool and rate() rely on it).
  for (const auto& f : m.families) {
    const bool counter = f.name.size() > 6 && f.name.compare(f.name.size() - 6, 6, "_total") == 0;
    EXPECT_EQ(f.type == prometheus::MetricType::Counter, counter) << f.name;
  }
}

// Accounting disk full: writable (a boolean) reads as 0 and the backlog is served.
TEST(StatusMetrics, AccountingNotWritableAndDkimCounts) {
  StatusFetches f = ExampleFetches();
  f.status = Ok([] {
    Json j = DocExample("status");
    j["accounting"] = Json{{"writable", false},
                           {"buffered_bytes", 4096},
                           {"write_errors", 7},
                           {"held_recipients", 12}};
    j["dkim"] = Json{{"signed", 30},
                     {"unsigned_no_key", 2},
                     {"sign_failures", 1},
                     {"domainkeys_signed", 5},
                     {"domainkeys_failures", 4}};
    return j;
  }());
  StatusMapping m = MapStatus(f, StatusMappingLimits{});
  ASSERT_TRUE(m.up) << m.error_text;
  EXPECT_EQ(Value(m, "outpost_accounting_writable"), 0.0);
  EXPECT_EQ(Value(m, "outpost_accounting_buffered_bytes"), 4096.0);
  EXPECT_EQ(Value(m, "outpost_accounting_write_errors_total"), 7.0);
  EXPECT_EQ(Value(m, "outpost_accounting_held_recipients"), 12.0);
  EXPECT_EQ(Value(m, "outpost_dkim_signed_total"), 30.0);
  EXPECT_EQ(Value(m, "outpost_dkim_unsigned_no_key_total"), 2.0);
  EXPECT_EQ(Value(m, "outpost_dkim_sign_failures_total"), 1.0);
  EXPECT_EQ(Value(m, "outpost_domainkeys_signed_total"), 5.0);
  EXPECT_EQ(Value(m, "outpost_domainkeys_sign_failures_total"), 4.0);
}

// The accounting feeds: a series per feed, labelled with its <acct-file> (bounded by the config);
// a feed listed twice is served once; a wrong type is a schema error.
TEST(StatusMetrics, AccountingFeedsArePerFeed) {
  auto with_feeds = [](const Json& feeds) {
    StatusFetches f = ExampleFetches();
    Json j = DocExample("status");
    j["accounting"]["feeds"] = feeds;
    f.status = Ok(j);
    return MapStatus(f, StatusMappingLimits{});
  };
  auto feed = [](const char* name, const char* kind, int behind) {
    return Json{{"feed", name},       {"kind", kind},      {"records_behind", behind},
                {"bytes_behind", 10}, {"records_sent", 5}, {"oldest_unsent_seconds", 700},
                {"failures", 2},      {"restarts", 1}};
  };
  StatusMapping m = with_feeds(
      Json::array({feed("/var/log/a.csv", "webhook", 3), feed("/var/log/b.csv", "webhook", 4),
                   feed("/var/log/b.csv", "webhook", 9), feed("|/usr/bin/ingest", "pipe", 7)}));
  ASSERT_TRUE(m.up) << m.error_text;
  EXPECT_EQ(Value(m, "outpost_acct_webhook_records_behind", "feed", "/var/log/a.csv"), 3.0);
  EXPECT_EQ(Value(m, "outpost_acct_webhook_records_behind", "feed", "/var/log/b.csv"), 4.0);
  EXPECT_EQ(SeriesOf(m, "outpost_acct_webhook_records_behind"), 2U) << "b.csv once";
  EXPECT_EQ(Value(m, "outpost_acct_webhook_oldest_unsent_seconds", "feed", "/var/log/a.csv"),
            700.0);
  EXPECT_EQ(Value(m, "outpost_acct_pipe_records_behind", "feed", "|/usr/bin/ingest"), 7.0);
  EXPECT_EQ(Value(m, "outpost_acct_pipe_restarts_total", "feed", "|/usr/bin/ingest"), 1.0);
  EXPECT_FALSE(Value(m, "outpost_acct_webhook_records_behind")) << "no unlabelled sum";
  EXPECT_FALSE(Value(m, "outpost_acct_pipe_records_behind", "feed", "/var/log/a.csv"));

  EXPECT_EQ(SeriesOf(with_feeds(Json::array()), "outpost_acct_webhook_records_behind"), 0U);
  Json bad = feed("/var/log/a.csv", "webhook", 3);
  bad["records_behind"] = "three";
  EXPECT_FALSE(with_feeds(Json::array({bad})).up);
  EXPECT_FALSE(with_feeds(Json::object()).up);
}

// Spool compaction: live bytes is a gauge, the compaction figures are counters (rate() and
// promtool rely on the type), each read from its own field.
TEST(StatusMetrics, SpoolLiveBytesAndCompactionCounters) {
  StatusFetches f = ExampleFetches();
  f.status = Ok([] {
    Json j = DocExample("status");
    j["spool"]["bytes"] = 10 << 20;
    j["spool"]["live_bytes"] = 1 << 20;
    j["spool"]["compactions"] = 7;
    j["spool"]["compaction_bytes_copied"] = 3 << 20;
    j["spool"]["bytes_reclaimed"] = 448 << 20;
    j["spool"]["compaction_errors"] = 1;
    return j;
  }());
  StatusMapping m = MapStatus(f, StatusMappingLimits{});
  ASSERT_TRUE(m.up) << m.error_text;
  struct Want {
    const char* name;
    prometheus::MetricType type;
    double value;
  };
  using T = prometheus::MetricType;
  for (const Want& w :
       {Want{"outpost_spool_bytes", T::Gauge, 10 << 20},
        Want{"outpost_spool_live_bytes", T::Gauge, 1 << 20},
        Want{"outpost_spool_compactions_total", T::Counter, 7},
        Want{"outpost_spool_compaction_copied_bytes_total", T::Counter, 3 << 20},
        Want{"outpost_spool_compaction_reclaimed_bytes_total", T::Counter, 448 << 20},
        Want{"outpost_spool_compaction_errors_total", T::Counter, 1}}) {
    const prometheus::MetricFamily* family = nullptr;
    for (const auto& fam : m.families) {
      if (fam.name == w.name) family = &fam;
    }
    ASSERT_NE(family, nullptr) << w.name;
    EXPECT_EQ(family->type, w.type) << w.name;
    ASSERT_EQ(family->metric.size(), 1u) << w.name;
    EXPECT_DOUBLE_EQ(
        w.type == T::Counter ? family->metric[0].counter.value : family->metric[0].gauge.value,
        w.value)
        << w.name;
  }
}

// A daemon from before spool compaction: up, the spool's other series there, the new ones absent.
TEST(StatusMetrics, OlderDaemonWithoutCompactionFieldsIsStillUp) {
  StatusFetches f = ExampleFetches();
  f.status = Ok([] {
    Json j = DocExample("status");
    for (const char* k : {"live_bytes", "compactions", "compaction_bytes_copied", "bytes_reclaimed",
                          "compaction_errors"}) {
      j["spool"].erase(k);
    }
    return j;
  }());
  StatusMapping m = MapStatus(f, StatusMappingLimits{});
  ASSERT_TRUE(m.up) << m.error_text;
  EXPECT_TRUE(Value(m, "outpost_spool_bytes"));
  for (const char* name : {"outpost_spool_live_bytes", "outpost_spool_compactions_total",
                           "outpost_spool_compaction_copied_bytes_total",
                           "outpost_spool_compaction_reclaimed_bytes_total",
                           "outpost_spool_compaction_errors_total"}) {
    EXPECT_FALSE(Value(m, name)) << name;
  }
}

// The interop counters: TLS fallbacks and 8-bit conversions reach their series.
TEST(StatusMetrics, InteropCounts) {
  StatusFetches f = ExampleFetches();
  f.status = Ok([] {
    Json j = DocExample("status");
    j["interop"] = Json{{"tls_fallbacks", 5},
                        {"tls_failures_remembered", 2},
                        {"converted_8bit", 3},
                        {"refused_8bit", 1}};
    return j;
  }());
  StatusMapping m = MapStatus(f, StatusMappingLimits{});
  ASSERT_TRUE(m.up) << m.error_text;
  EXPECT_EQ(Value(m, "outpost_tls_fallbacks_total"), 5.0);
  EXPECT_EQ(Value(m, "outpost_tls_failures_remembered"), 2.0);
  EXPECT_EQ(Value(m, "outpost_8bit_converted_total"), 3.0);
  EXPECT_EQ(Value(m, "outpost_8bit_refused_total"), 1.0);
}

// The signing pool's load reaches its series; a daemon without the object simply lacks them.
TEST(StatusMetrics, SigningPoolLoad) {
  StatusFetches f = ExampleFetches();
  f.status = Ok([] {
    Json j = DocExample("status");
    j["signing_pool"] =
        Json{{"threads", 4}, {"capacity", 16}, {"queued", 6},          {"running", 4},
             {"waiting", 3}, {"jobs", 1200},   {"busy_seconds", 12.5}, {"busy_fraction", 0.75}};
    return j;
  }());
  StatusMapping m = MapStatus(f, StatusMappingLimits{});
  ASSERT_TRUE(m.up) << m.error_text;
  EXPECT_EQ(Value(m, "outpost_signing_pool_threads"), 4.0);
  EXPECT_EQ(Value(m, "outpost_signing_pool_queued"), 6.0);
  EXPECT_EQ(Value(m, "outpost_signing_pool_waiting"), 3.0);
  EXPECT_EQ(Value(m, "outpost_signing_pool_busy_ratio"), 0.75);
  EXPECT_EQ(Value(m, "outpost_signing_pool_busy_seconds_total"), 12.5);
  EXPECT_EQ(Value(m, "outpost_signing_pool_jobs_total"), 1200.0);

  f.status = Ok([] {
    Json j = DocExample("status");
    j.erase("signing_pool");
    return j;
  }());
  m = MapStatus(f, StatusMappingLimits{});
  ASSERT_TRUE(m.up) << m.error_text;
  EXPECT_FALSE(Value(m, "outpost_signing_pool_threads"));
}

// A daemon from before the accounting and dkim objects: up, those series simply absent.
TEST(StatusMetrics, OlderDaemonWithoutAccountingOrDkimIsStillUp) {
  StatusFetches f = ExampleFetches();
  f.status = Ok([] {
    Json j = DocExample("status");
    j.erase("accounting");
    j.erase("dkim");
    j.erase("interop");
    return j;
  }());
  StatusMapping m = MapStatus(f, StatusMappingLimits{});
  ASSERT_TRUE(m.up) << m.error_text;
  EXPECT_FALSE(Value(m, "outpost_accounting_writable"));
  EXPECT_FALSE(Value(m, "outpost_dkim_signed_total"));
  EXPECT_FALSE(Value(m, "outpost_tls_fallbacks_total"));
  EXPECT_TRUE(Value(m, "outpost_queue_recipients"));
}

struct FailCase {
  const char* label;
  std::function<void(StatusFetches&)> damage;
  bool up;
  std::vector<StatusErrorReason> errors;
};

void PrintTo(const FailCase& c, std::ostream* os) { *os << c.label; }

class StatusFailures : public ::testing::TestWithParam<FailCase> {};

TEST_P(StatusFailures, UpAndReason) {
  const FailCase& c = GetParam();
  StatusFetches f = ExampleFetches();
  c.damage(f);
  StatusMapping m = MapStatus(f, StatusMappingLimits{});
  EXPECT_EQ(m.up, c.up) << c.label << ": " << m.error_text;
  EXPECT_EQ(m.errors, c.errors) << c.label << ": " << m.error_text;
  if (!c.up) {
    EXPECT_TRUE(m.families.empty()) << c.label << ": no status metric when down";
    EXPECT_FALSE(m.error_text.empty()) << c.label;
  }
}

Json StatusWith(const std::function<void(Json&)>& edit) {
  Json j = DocExample("status");
  edit(j);
  return j;
}

using R = StatusErrorReason;

INSTANTIATE_TEST_SUITE_P(
    Table, StatusFailures,
    ::testing::Values(
        FailCase{"connect_refused",
                 [](StatusFetches& f) { f.status = Transport(R::kConnect); },
                 false,
                 {R::kConnect}},
        FailCase{"timeout",
                 [](StatusFetches& f) { f.status = Transport(R::kTimeout); },
                 false,
                 {R::kTimeout}},
        FailCase{"http_500",
                 [](StatusFetches& f) { f.status = Body("{}", 500); },
                 false,
                 {R::kHttpStatus}},
        FailCase{"http_403_json_error",
                 [](StatusFetches& f) {
                   f.status = Ok(Json{{"error", "access denied"}, {"status", 403}}, 403);
                 },
                 false,
                 {R::kHttpStatus}},
        FailCase{"not_json",
                 [](StatusFetches& f) { f.status = Body("<html>hello</html>"); },
                 false,
                 {R::kBadJson}},
        FailCase{"truncated_json",
                 [](StatusFetches& f) { f.status.body.resize(f.status.body.size() / 2); },
                 false,
                 {R::kBadJson}},
        FailCase{
            "json_array", [](StatusFetches& f) { f.status = Body("[1,2]"); }, false, {R::kSchema}},
        FailCase{
            "no_schema_field",
            [](StatusFetches& f) { f.status = Ok(StatusWith([](Json& j) { j.erase("schema"); })); },
            false,
            {R::kSchema}},
        FailCase{"schema_v2",
                 [](StatusFetches& f) {
                   f.status = Ok(StatusWith([](Json& j) { j["schema"] = "outpost.status/v2"; }));
                 },
                 false,
                 {R::kSchema}},
        FailCase{"number_as_string",
                 [](StatusFetches& f) {
                   f.status = Ok(StatusWith([](Json& j) { j["queue"]["recipients"] = "26"; }));
                 },
                 false,
                 {R::kSchema}},
        FailCase{"spool_compactions_as_string",
                 [](StatusFetches& f) {
                   f.status = Ok(StatusWith([](Json& j) { j["spool"]["compactions"] = "2"; }));
                 },
                 false,
                 {R::kSchema}},
        FailCase{
            "object_as_number",
            [](StatusFetches& f) { f.status = Ok(StatusWith([](Json& j) { j["process"] = 5; })); },
            false,
            {R::kSchema}},
        FailCase{"traffic_leaf_wrong_type",
                 [](StatusFetches& f) {
                   f.status = Ok(StatusWith(
                       [](Json& j) { j["traffic"]["out"]["total"]["bytes"] = Json::array(); }));
                 },
                 false,
                 {R::kSchema}},
        FailCase{"backoff_item_without_name",
                 [](StatusFetches& f) {
                   f.status = Ok(StatusWith([](Json& j) { j["backoff_queues"][0].erase("name"); }));
                 },
                 false,
                 {R::kSchema}},
        // Secondary documents: counted, their metrics omitted, up unchanged.
        FailCase{"queues_garbage",
                 [](StatusFetches& f) { f.queues = Body("nope"); },
                 true,
                 {R::kBadJson}},
        FailCase{"queues_wrong_schema",
                 [](StatusFetches& f) { f.queues = Ok(DocExample("vmtas")); },
                 true,
                 {R::kSchema}},
        FailCase{"vmtas_timeout",
                 [](StatusFetches& f) { f.vmtas = Transport(R::kTimeout); },
                 true,
                 {R::kTimeout}},
        FailCase{"ready_500",
                 [](StatusFetches& f) { f.ready = Body("{}", 500); },
                 true,
                 {R::kHttpStatus}},
        FailCase{"ready_without_flag",
                 [](StatusFetches& f) { f.ready = Ok(Json::object()); },
                 true,
                 {R::kSchema}},
        FailCase{"ready_503_is_an_answer",
                 [](StatusFetches& f) {
                   f.ready = Ok(Json{{"ready", false}, {"reasons", {"spool"}}}, 503);
                 },
                 true,
                 {}}),
    [](const ::testing::TestParamInfo<FailCase>& i) { return std::string(i.param.label); });

TEST(StatusMetrics, SecondaryFailureOmitsOnlyItsMetrics) {
  StatusFetches f = ExampleFetches();
  f.queues = Body("nope");
  f.ready = Ok(Json{{"ready", false}, {"reasons", {"spool"}}}, 503);
  StatusMapping m = MapStatus(f, StatusMappingLimits{});
  ASSERT_TRUE(m.up);
  EXPECT_EQ(SeriesOf(m, "outpost_top_queue_recipients"), 0u);
  EXPECT_EQ(Value(m, "outpost_queue_recipients"), 26);
  EXPECT_EQ(Value(m, "outpost_queue_recipients_by_vmta", "vmta", "vmta1"), 26);
  EXPECT_EQ(Value(m, "outpost_ready"), 0);
}

TEST(StatusMetrics, MissingFieldsOmitTheirMetricsOnly) {
  StatusFetches f = ExampleFetches();
  f.status = Ok(StatusWith([](Json& j) {
    j["process"].erase("swap_bytes");
    j.erase("dns");
    j["traffic"].erase("out");
    j["process"]["max_fds"] = -1;  // unlimited
  }));
  f.queues.reset();
  f.vmtas.reset();
  f.ready.reset();
  StatusMapping m = MapStatus(f, StatusMappingLimits{});
  ASSERT_TRUE(m.up) << m.error_text;
  EXPECT_FALSE(Value(m, "outpost_process_swap_bytes"));
  EXPECT_FALSE(Value(m, "outpost_dns_cache_entries"));
  EXPECT_FALSE(Value(m, "outpost_dns_cache_hit_ratio"));
  EXPECT_FALSE(Value(m, "outpost_process_max_fds"));
  EXPECT_FALSE(Value(m, "outpost_traffic_bytes_total", "direction", "out"));
  EXPECT_EQ(Value(m, "outpost_traffic_bytes_total", "direction", "in"), 4080);
  EXPECT_EQ(Value(m, "outpost_process_resident_memory_bytes"), 9736192);
  EXPECT_EQ(SeriesOf(m, "outpost_ready"), 0u);
}

TEST(StatusMetrics, LabelsAreCapped) {
  Json vmtas = DocExample("vmtas");
  Json one = vmtas["vmtas"][0];
  vmtas["vmtas"] = Json::array();
  for (auto [name, n] : {std::pair{"a", 5}, {"b", 50}, {"c", 7}, {"other", 1}, {"d", 2}}) {
    one["vmta"] = name;
    one["recipients"] = n;
    vmtas["vmtas"].push_back(one);
  }
  Json queues = DocExample("queues");
  Json status = DocExample("status");
  Json bq = status["backoff_queues"][0];
  status["backoff_queues"] = Json::array();
  for (auto [name, n] : {std::pair{"x.com/v", 1}, {"y.com/v", 9}, {"z.com/v", 4}}) {
    bq["name"] = name;
    bq["recipients"] = n;
    bq["backoff_seconds"] = n * 10;  // a field v1 may add: used when present
    status["backoff_queues"].push_back(bq);
  }
  StatusFetches f = ExampleFetches();
  f.vmtas = Ok(vmtas);
  f.status = Ok(status);
  StatusMapping m = MapStatus(f, StatusMappingLimits{/*top_queues=*/2, /*max_vmtas=*/2});
  ASSERT_TRUE(m.up) << m.error_text;
  // The two largest vmtas keep their names; c, d and the vmta named "other" add up to "other".
  EXPECT_EQ(SeriesOf(m, "outpost_queue_recipients_by_vmta"), 3u);
  EXPECT_EQ(Value(m, "outpost_queue_recipients_by_vmta", "vmta", "b"), 50);
  EXPECT_EQ(Value(m, "outpost_queue_recipients_by_vmta", "vmta", "c"), 7);
  EXPECT_EQ(Value(m, "outpost_queue_recipients_by_vmta", "vmta", "other"), 5 + 1 + 2);
  // Top queues: the 2 largest of the answer; backoff queues: the 2 largest too.
  EXPECT_EQ(SeriesOf(m, "outpost_top_queue_recipients"), 2u);
  EXPECT_EQ(Value(m, "outpost_top_queue_recipients", "queue", "hotmail.com/vmta1"), 20);
  EXPECT_EQ(Value(m, "outpost_top_queue_recipients", "queue", "yahoo.com/vmta1"), 6);
  EXPECT_EQ(SeriesOf(m, "outpost_queue_backoff_seconds"), 2u);
  EXPECT_EQ(Value(m, "outpost_queue_backoff_seconds", "queue", "y.com/v"), 90);
  EXPECT_EQ(Value(m, "outpost_queue_backoff_seconds", "queue", "z.com/v"), 40);
}

// Found by fuzz/status_json_fuzzer (fuzz/corpus/status_json/regress-duplicate-*): a queue
// listed twice gave two series with the same labels, which makes Prometheus refuse the scrape.
TEST(StatusMetrics, DuplicateQueueNamesGiveOneSeries) {
  struct Case {
    const char* label;
    const char* family;
    std::function<void(StatusFetches&)> build;
  };
  const Case cases[] = {
      {"backoff_queues", "outpost_queue_backoff_seconds",
       [](StatusFetches& f) {
         f.status = Ok(StatusWith([](Json& j) {
           j["backoff_queues"] =
               Json::parse(R"([{"name":"a.com/v","recipients":1,"backoff_seconds":10},)"
                           R"({"name":"a.com/v","recipients":2,"backoff_seconds":20}])");
         }));
       }},
      {"queues.json", "outpost_top_queue_recipients",
       [](StatusFetches& f) {
         f.queues =
             Body(R"({"schema":"outpost.queues/v1","queues":[{"name":"a.com/v","recipients":1},)"
                  R"({"name":"a.com/v","recipients":2}]})");
       }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    StatusFetches f = ExampleFetches();
    c.build(f);
    StatusMapping m = MapStatus(f, StatusMappingLimits{});
    ASSERT_TRUE(m.up) << m.error_text;
    EXPECT_TRUE(m.errors.empty()) << m.error_text;
    EXPECT_EQ(SeriesOf(m, c.family), 1u);
    // The largest of the duplicates is kept.
    EXPECT_EQ(Value(m, c.family, "queue", "a.com/v"),
              std::string(c.family) == "outpost_queue_backoff_seconds" ? 20 : 2);
  }
}

TEST(StatusMetrics, PausedModeWhenTheApiGivesIt) {
  StatusFetches f = ExampleFetches();
  f.status = Ok(StatusWith([](Json& j) {
    j["queue"]["by_mode"]["paused"] = {{"recipients", 3}, {"messages", 3}};
  }));
  StatusMapping m = MapStatus(f, StatusMappingLimits{});
  ASSERT_TRUE(m.up) << m.error_text;
  EXPECT_EQ(Value(m, "outpost_queue_recipients_by_mode", "mode", "paused"), 3);
}

}  // namespace
}  // namespace outpost::exporter
