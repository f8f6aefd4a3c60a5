#include "mta/mgmt/status_json.hpp"

#include <algorithm>
#include <ctime>
#include <map>

#include "mta/queue/queue_name.hpp"

namespace outpost::mgmt {
namespace {

using nlohmann::json;

json WindowJson(const bus::BusSnapshot& bus, std::string_view name, std::string_view label = {}) {
  const bus::WindowCounts w = bus.Windows(name, label);
  return {{"total", bus.Value(name, label)},
          {"last_1m", w.last_1m},
          {"last_5m", w.last_5m},
          {"last_1h", w.last_1h},
          {"rate_1m", static_cast<double>(w.last_1m)},
          {"rate_5m", static_cast<double>(w.last_5m) / 5.0},
          {"rate_1h", static_cast<double>(w.last_1h) / 60.0}};
}

json TrafficJson(const bus::BusSnapshot& bus, const char* dir) {
  const std::string prefix = std::string("traffic_") + dir + "_";
  json out = json::object();
  const std::pair<const char*, int> periods[] = {
      {"total", 0}, {"last_minute", 1}, {"last_hour", 2}};
  for (const auto& [period, which] : periods) {
    json p = json::object();
    for (const char* what : {"messages", "recipients", "bytes"}) {
      const std::string name = prefix + what + "_total";
      const bus::WindowCounts w = bus.Windows(name);
      p[what] = which == 0 ? bus.Value(name) : which == 1 ? w.last_1m : w.last_1h;
    }
    out[period] = p;
  }
  return out;
}

json QueueJson(const queue::QueueStats& q) {
  auto key = queue::ParseQueueName(q.name);
  return {{"name", q.name},
          {"domain", key ? key->domain : q.name},
          {"vmta", key ? key->vmta : ""},
          {"mode", q.mode},
          {"paused", q.paused},
          {"recipients", q.recipients},
          {"messages", q.messages},
          {"connections", q.connections},
          {"delivered", q.delivered},
          {"deferred", q.deferred},
          {"bounced", q.bounced},
          {"expired", q.expired},
          {"connect_failures", q.connect_failures},
          {"mode_changes", q.mode_changes},
          {"last_error", q.last_error}};
}

double Ratio(std::int64_t part, std::int64_t whole) {
  return whole <= 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
}

// Aggregates queues and outcome families by one side of the queue name.
struct Aggregate {
  std::uint64_t queues = 0;
  std::uint64_t recipients = 0;
  std::uint64_t messages = 0;
  std::uint64_t connections = 0;
  std::uint64_t backoff_queues = 0;
  std::uint64_t paused_queues = 0;
  std::string last_error;
};

std::map<std::string, Aggregate> AggregateBy(const StatusInputs& in, bool by_domain,
                                             const char* outcome_prefix) {
  std::map<std::string, Aggregate> out;
  for (const auto& q : in.queues->queues) {
    auto key = queue::ParseQueueName(q.name);
    if (!key) continue;
    Aggregate& a = out[by_domain ? key->domain : key->vmta];
    ++a.queues;
    a.recipients += q.recipients;
    a.messages += q.messages;
    a.connections += q.connections;
    if (q.mode == "backoff") ++a.backoff_queues;
    if (q.paused) ++a.paused_queues;
    if (!q.last_error.empty()) a.last_error = q.last_error;
  }
  // Names that only the outcome counters know (e.g. queues already emptied) are listed too.
  for (const char* what : {"delivered", "deferred", "bounced", "queue_failures"}) {
    const bus::MetricSnapshot* m = in.bus.Find(std::string(outcome_prefix) + "_" + what + "_total");
    if (m == nullptr) continue;
    for (const auto& s : m->series) out.try_emplace(s.label);
  }
  return out;
}

json OutcomesJson(const StatusInputs& in, const std::string& prefix, const std::string& label) {
  json out = json::object();
  for (const char* what : {"delivered", "deferred", "bounced", "queue_failures"}) {
    out[what] = WindowJson(in.bus, prefix + "_" + what + "_total", label);
  }
  const auto d = in.bus.Windows(prefix + "_delivered_total", label);
  const auto t = in.bus.Windows(prefix + "_deferred_total", label);
  const auto b = in.bus.Windows(prefix + "_bounced_total", label);
  out["deferral_ratio_1h"] = Ratio(t.last_1h, d.last_1h + t.last_1h + b.last_1h);
  out["bounce_ratio_1h"] = Ratio(b.last_1h, d.last_1h + t.last_1h + b.last_1h);
  return out;
}

}  // namespace

std::string IsoTime(std::int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Readiness ReadinessOf(const StatusInputs& in) {
  Readiness r;
  const bus::MetricSnapshot* healthy = in.bus.Find("spool_healthy");
  if (healthy != nullptr && in.bus.Value("spool_healthy") == 0) {
    r.ready = false;
    r.reasons.push_back("spool unhealthy: commits are refused (disk full or write errors)");
  }
  if (!in.admitting) {
    r.ready = false;
    r.reasons.push_back("queue full: max-queued-recipients reached, injections get 452");
  }
  return r;
}

json RenderStatus(const StatusInputs& in) {
  const auto& bus = in.bus;
  const auto& t = in.queues->totals;
  std::uint64_t paused = 0;
  json backoff = json::array();
  for (const auto& q : in.queues->queues) {
    if (q.paused) ++paused;
    if (q.mode == "backoff") {
      backoff.push_back({{"name", q.name},
                         {"recipients", q.recipients},
                         {"backoff_seconds", q.backoff_seconds},
                         {"paused", q.paused},
                         {"last_error", q.last_error}});
    }
  }
  json by_mode = json::object();
  for (const char* mode : {"normal", "backoff", "paused"}) {
    by_mode[mode] = {{"recipients", bus.Value("mode_recipients", mode)},
                     {"messages", bus.Value("mode_messages", mode)}};
  }
  const std::int64_t hits = bus.Value("dns_cache_hits_total");
  const std::int64_t misses = bus.Value("dns_cache_misses_total");
  const Readiness ready = ReadinessOf(in);
  json outcomes = json::object();
  for (const char* what : {"delivered", "deferred", "bounced", "queue_failures"}) {
    // Totals over every domain: the per-domain families summed.
    std::int64_t total = 0;
    bus::WindowCounts w;
    if (const bus::MetricSnapshot* m = bus.Find(std::string("domain_") + what + "_total")) {
      for (const auto& s : m->series) {
        total += s.value;
        w.last_1m += s.windows.last_1m;
        w.last_5m += s.windows.last_5m;
        w.last_1h += s.windows.last_1h;
      }
    }
    outcomes[what] = {
        {"total", total}, {"last_1m", w.last_1m}, {"last_5m", w.last_5m}, {"last_1h", w.last_1h}};
  }
  return {
      {"schema", kStatusSchema},
      {"version", in.version},
      {"generated_at", IsoTime(in.now_unix)},
      {"queues_sampled_at", IsoTime(in.sampled_unix)},
      {"uptime_seconds", bus.Value("process_uptime_seconds")},
      {"ready", ready.ready},
      {"not_ready_reasons", ready.reasons},
      {"connections",
       {{"smtp_in", bus.Value("connections_in")},
        {"smtp_in_total", bus.Value("connections_in_total")},
        {"smtp_out", t.connections}}},
      {"traffic", {{"in", TrafficJson(bus, "in")}, {"out", TrafficJson(bus, "out")}}},
      {"queue",
       {{"queues", t.queues},
        {"recipients", t.recipients},
        {"messages", t.messages},
        {"active_recipients", t.active_recipients},
        {"recipients_in_backoff", t.recipients_in_backoff},
        {"queues_in_backoff", t.queues_in_backoff},
        {"paused_queues", paused},
        {"admission_refusals", t.admission_refusals},
        {"mode_changes", t.mode_changes},
        {"dsns", t.dsns},
        {"by_mode", by_mode}}},
      {"outcomes", outcomes},
      {"process",
       {{"rss_bytes", bus.Value("process_resident_memory_bytes")},
        {"swap_bytes", bus.Value("process_swap_bytes")},
        {"open_fds", bus.Value("process_open_fds")},
        {"max_fds", bus.Value("process_max_fds")},
        {"cpu_seconds", static_cast<double>(bus.Value("process_cpu_milliseconds_total")) / 1000.0},
        {"uptime_seconds", bus.Value("process_uptime_seconds")}}},
      {"spool",
       {{"healthy", bus.Value("spool_healthy") != 0},
        {"entries", bus.Value("spool_entries")},
        {"live_bytes", bus.Value("spool_live_bytes")},
        {"bytes", bus.Value("spool_bytes")},
        {"compactions", bus.Value("spool_compactions_total")},
        {"compaction_bytes_copied", bus.Value("spool_compaction_copied_bytes_total")},
        {"bytes_reclaimed", bus.Value("spool_compaction_reclaimed_bytes_total")},
        {"compaction_errors", bus.Value("spool_compaction_errors_total")},
        {"damaged", bus.Value("spool_damaged_total")},
        {"disk_used_bytes", bus.Value("spool_disk_used_bytes")},
        {"disk_free_bytes", bus.Value("spool_disk_free_bytes")}}},
      {"accounting",
       {{"writable", bus.Find("acct_writable") == nullptr || bus.Value("acct_writable") != 0},
        {"buffered_bytes", bus.Value("acct_buffered_bytes")},
        {"write_errors", bus.Value("acct_write_errors_total")},
        {"held_recipients", bus.Value("acct_held_completions")}}},
      {"dkim",
       {{"signed", bus.Value("dkim_signed_total")},
        {"unsigned_no_key", bus.Value("dkim_unsigned_no_key_total")},
        {"sign_failures", bus.Value("dkim_sign_failures_total")}}},
      {"interop",
       {{"tls_fallbacks", bus.Value("tls_fallbacks_total")},
        {"tls_failures_remembered", bus.Value("tls_failures_remembered")},
        {"converted_8bit", bus.Value("mime_8bit_converted_total")},
        {"refused_8bit", bus.Value("mime_8bit_refused_total")}}},
      {"dns",
       {{"cache_entries", bus.Value("dns_cache_entries")},
        {"cache_hits", hits},
        {"cache_misses", misses},
        {"hit_ratio", Ratio(hits, hits + misses)},
        {"queries", bus.Value("dns_queries_total")},
        {"failures", bus.Value("dns_failures_total")}}},
      {"config",
       {{"reloads", bus.Value("config_reloads_total")},
        {"reload_failures", bus.Value("config_reload_failures_total")},
        {"last_reload_errors", in.last_reload_errors}}},
      {"backoff_queues", backoff},
  };
}

json RenderQueues(const StatusInputs& in, const QueueFilter& filter) {
  std::vector<const queue::QueueStats*> matched;
  for (const auto& q : in.queues->queues) {
    auto key = queue::ParseQueueName(q.name);
    if (!filter.domain.empty() && (!key || key->domain != filter.domain)) continue;
    if (!filter.vmta.empty() && (!key || key->vmta != filter.vmta)) continue;
    if (!filter.mode.empty() && q.mode != filter.mode) continue;
    matched.push_back(&q);
  }
  std::stable_sort(matched.begin(), matched.end(), [](const auto* a, const auto* b) {
    return a->recipients != b->recipients ? a->recipients > b->recipients : a->name < b->name;
  });
  const std::size_t total = matched.size();
  if (filter.top && matched.size() > *filter.top) matched.resize(*filter.top);
  json queues = json::array();
  for (const auto* q : matched) queues.push_back(QueueJson(*q));
  return {{"schema", kQueuesSchema},
          {"generated_at", IsoTime(in.now_unix)},
          {"matched", total},
          {"queues", queues}};
}

json RenderDomains(const StatusInputs& in) {
  json domains = json::array();
  for (const auto& [name, a] : AggregateBy(in, /*by_domain=*/true, "domain")) {
    json d = OutcomesJson(in, "domain", name);
    d["domain"] = name;
    d["queues"] = a.queues;
    d["recipients"] = a.recipients;
    d["messages"] = a.messages;
    d["connections"] = a.connections;
    d["backoff_queues"] = a.backoff_queues;
    d["paused_queues"] = a.paused_queues;
    d["last_error"] = a.last_error;
    domains.push_back(std::move(d));
  }
  return {{"schema", kDomainsSchema}, {"generated_at", IsoTime(in.now_unix)}, {"domains", domains}};
}

json RenderVmtas(const StatusInputs& in) {
  json vmtas = json::array();
  for (const auto& [name, a] : AggregateBy(in, /*by_domain=*/false, "vmta")) {
    json v = OutcomesJson(in, "vmta", name);
    v["vmta"] = name;
    v["queues"] = a.queues;
    v["recipients"] = a.recipients;
    v["messages"] = a.messages;
    v["connections"] = a.connections;
    v["backoff_queues"] = a.backoff_queues;
    v["last_error"] = a.last_error;
    vmtas.push_back(std::move(v));
  }
  return {{"schema", kVmtasSchema}, {"generated_at", IsoTime(in.now_unix)}, {"vmtas", vmtas}};
}

json RenderCounters(const StatusInputs& in) {
  json metrics = json::array();
  for (const auto& m : in.bus.metrics) {
    json series = json::array();
    for (const auto& s : m.series) {
      json one = {{"label", s.label}, {"value", s.value}};
      if (m.descriptor.type == bus::MetricType::kWindowed) {
        one["last_1m"] = s.windows.last_1m;
        one["last_5m"] = s.windows.last_5m;
        one["last_1h"] = s.windows.last_1h;
      }
      series.push_back(std::move(one));
    }
    metrics.push_back({{"name", std::string(m.descriptor.name)},
                       {"help", std::string(m.descriptor.help)},
                       {"type", std::string(bus::MetricTypeName(m.descriptor.type))},
                       {"unit", std::string(m.descriptor.unit)},
                       {"label", std::string(m.descriptor.label)},
                       {"series", series}});
  }
  return {
      {"schema", kCountersSchema}, {"generated_at", IsoTime(in.now_unix)}, {"metrics", metrics}};
}

json RenderError(int status, const std::string& message) {
  return {{"error", message}, {"status", status}};
}

}  // namespace outpost::mgmt
