#include "exporter/status_metrics.hpp"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

namespace outpost::exporter {

using prometheus::MetricType;
using Json = nlohmann::json;

const std::array<StatusScalar, 49> kStatusScalars = {{
    {"outpost_uptime_seconds", "outpostd uptime.", MetricType::Gauge, {"uptime_seconds"}},
    {"outpost_queue_recipients",
     "Queued recipients, total.",
     MetricType::Gauge,
     {"queue", "recipients"}},
    {"outpost_queue_messages",
     "Queued messages, total (once per queue a message waits in).",
     MetricType::Gauge,
     {"queue", "messages"}},
    {"outpost_backoff_recipients",
     "Recipients in queues in backoff mode.",
     MetricType::Gauge,
     {"queue", "recipients_in_backoff"}},
    {"outpost_backoff_queues",
     "Queues in backoff mode.",
     MetricType::Gauge,
     {"queue", "queues_in_backoff"}},
    {"outpost_queue_oldest_message_age_seconds",
     "Time in queue of the oldest recipient waiting in any queue (0: none).",
     MetricType::Gauge,
     {"queue", "oldest_age_seconds"}},
    {"outpost_queue_stalls_total",
     "Stall episodes: a queue with mail due that made no delivery attempt for "
     "queue-stall-warning-after.",
     MetricType::Counter,
     {"queue", "stalls"}},
    {"outpost_queues_stalled",
     "Queues stalled now (mail due, no delivery attempt, no known reason).",
     MetricType::Gauge,
     {"queue", "stalled_queues"}},
    {"outpost_process_resident_memory_bytes",
     "outpostd resident memory.",
     MetricType::Gauge,
     {"process", "rss_bytes"}},
    {"outpost_process_swap_bytes",
     "outpostd swap use.",
     MetricType::Gauge,
     {"process", "swap_bytes"}},
    {"outpost_process_open_fds",
     "outpostd open file descriptors.",
     MetricType::Gauge,
     {"process", "open_fds"}},
    {"outpost_process_max_fds",
     "outpostd file descriptor limit (omitted when unlimited).",
     MetricType::Gauge,
     {"process", "max_fds"}},
    {"outpost_process_cpu_seconds_total",
     "outpostd CPU time (user + system).",
     MetricType::Counter,
     {"process", "cpu_seconds"}},
    {"outpost_invariant_violations_total",
     "Impossible states outpostd detected (each one is a bug to report).",
     MetricType::Counter,
     {"process", "invariant_violations"}},
    {"outpost_spool_entries", "Spooled messages.", MetricType::Gauge, {"spool", "entries"}},
    {"outpost_spool_bytes",
     "Bytes of spool segment files on disk.",
     MetricType::Gauge,
     {"spool", "bytes"}},
    {"outpost_spool_live_bytes",
     "Bytes of live spool entries (what a fully compacted spool would hold).",
     MetricType::Gauge,
     {"spool", "live_bytes"}},
    {"outpost_spool_compactions_total",
     "Spool segments emptied by compaction and deleted.",
     MetricType::Counter,
     {"spool", "compactions"}},
    {"outpost_spool_compaction_copied_bytes_total",
     "Bytes of live spool entries copied forward by compaction.",
     MetricType::Counter,
     {"spool", "compaction_bytes_copied"}},
    {"outpost_spool_compaction_reclaimed_bytes_total",
     "Bytes of spool segment files deleted by compaction.",
     MetricType::Counter,
     {"spool", "bytes_reclaimed"}},
    {"outpost_spool_compaction_errors_total",
     "Failed spool compaction attempts.",
     MetricType::Counter,
     {"spool", "compaction_errors"}},
    {"outpost_spool_disk_used_bytes",
     "Used bytes on the spool's file system.",
     MetricType::Gauge,
     {"spool", "disk_used_bytes"}},
    {"outpost_spool_disk_free_bytes",
     "Free bytes on the spool's file system (for outpostd).",
     MetricType::Gauge,
     {"spool", "disk_free_bytes"}},
    {"outpost_dns_cache_entries",
     "DNS cache entries.",
     MetricType::Gauge,
     {"dns", "cache_entries"}},
    {"outpost_dns_cache_hit_ratio",
     "DNS cache hits / (hits + misses) since start.",
     MetricType::Gauge,
     {"dns", "hit_ratio"}},
    {"outpost_config_reload_failures_total",
     "Configuration reloads refused.",
     MetricType::Counter,
     {"config", "reload_failures"}},
    {"outpost_accounting_writable",
     "1 when every accounting record is in its file, 0 while records wait in memory.",
     MetricType::Gauge,
     {"accounting", "writable"}},
    {"outpost_accounting_buffered_bytes",
     "Accounting bytes waiting in memory for their file (its disk full).",
     MetricType::Gauge,
     {"accounting", "buffered_bytes"}},
    {"outpost_accounting_write_errors_total",
     "Failed writes to accounting files.",
     MetricType::Counter,
     {"accounting", "write_errors"}},
    {"outpost_accounting_held_recipients",
     "Finished recipients kept in the spool until their accounting record is written.",
     MetricType::Gauge,
     {"accounting", "held_recipients"}},
    {"outpost_dkim_signed_total",
     "Transactions sent with a DKIM-Signature.",
     MetricType::Counter,
     {"dkim", "signed"}},
    {"outpost_dkim_unsigned_no_key_total",
     "Transactions sent unsigned: dkim-sign is on but the From: domain has no domain-key.",
     MetricType::Counter,
     {"dkim", "unsigned_no_key"}},
    {"outpost_dkim_sign_failures_total",
     "Transactions sent unsigned: the key did not fit the policy or signing failed.",
     MetricType::Counter,
     {"dkim", "sign_failures"}},
    {"outpost_domainkeys_signed_total",
     "Transactions sent with a DomainKey-Signature (dk-sign).",
     MetricType::Counter,
     {"dkim", "domainkeys_signed"}},
    {"outpost_domainkeys_sign_failures_total",
     "Transactions dk-sign asked to sign that went without a DomainKey-Signature.",
     MetricType::Counter,
     {"dkim", "domainkeys_failures"}},
    {"outpost_signing_pool_threads",
     "Threads of the pool that makes DKIM signatures (queue-processing-threads).",
     MetricType::Gauge,
     {"signing_pool", "threads"}},
    {"outpost_signing_pool_queued",
     "Messages in the signing pool's queue, not started.",
     MetricType::Gauge,
     {"signing_pool", "queued"}},
    {"outpost_signing_pool_waiting",
     "Transactions waiting for room in the full signing pool (back-pressure).",
     MetricType::Gauge,
     {"signing_pool", "waiting"}},
    {"outpost_signing_pool_busy_ratio",
     "Share of the signing pool's thread time spent signing over the last second (0 to 1).",
     MetricType::Gauge,
     {"signing_pool", "busy_fraction"}},
    {"outpost_signing_pool_busy_seconds_total",
     "Thread time the signing pool spent signing, summed over its threads.",
     MetricType::Counter,
     {"signing_pool", "busy_seconds"}},
    {"outpost_signing_pool_jobs_total",
     "Messages the signing pool has finished with (signed or found unsignable).",
     MetricType::Counter,
     {"signing_pool", "jobs"}},
    {"outpost_tls_fallbacks_total",
     "Connections made in plain text because a TLS handshake failed at that server.",
     MetricType::Counter,
     {"interop", "tls_fallbacks"}},
    {"outpost_tls_failures_remembered",
     "Servers (name, address, port) skipping STARTTLS after a failed handshake.",
     MetricType::Gauge,
     {"interop", "tls_failures_remembered"}},
    {"outpost_8bit_converted_total",
     "Transactions converted to 7-bit MIME for a server without 8BITMIME.",
     MetricType::Counter,
     {"interop", "converted_8bit"}},
    {"outpost_8bit_refused_total",
     "Transactions bounced: 8-bit headers and a server without 8BITMIME.",
     MetricType::Counter,
     {"interop", "refused_8bit"}},
    {"outpost_alert_actions_active",
     "Alert-driven actions in effect now (<alert-action>).",
     MetricType::Gauge,
     {"actions", "totals", "active"}},
    {"outpost_alert_actions_total",
     "Alert-driven actions taken because a matching alert fired.",
     MetricType::Counter,
     {"actions", "totals", "taken"}},
    {"outpost_alert_action_undos_total",
     "Alert-driven actions undone (resolved, expired, or rule gone at reload).",
     MetricType::Counter,
     {"actions", "totals", "undone"}},
    {"outpost_alert_action_failures_total",
     "Alert-driven actions or undos the scheduler refused.",
     MetricType::Counter,
     {"actions", "totals", "failed"}},
}};

const std::array<StatusFeedMetric, 10> kStatusFeedMetrics = {{
    {"outpost_acct_webhook_records_behind",
     "Accounting records written but not yet accepted by the webhook (approximate).",
     MetricType::Gauge, "webhook", "records_behind"},
    {"outpost_acct_webhook_bytes_behind",
     "Accounting bytes written but not yet accepted by the webhook.", MetricType::Gauge, "webhook",
     "bytes_behind"},
    {"outpost_acct_webhook_oldest_unsent_seconds",
     "Seconds since the accounting webhook was last caught up (0: caught up).", MetricType::Gauge,
     "webhook", "oldest_unsent_seconds"},
    {"outpost_acct_webhook_records_sent_total",
     "Accounting records the webhook accepted with a 2xx.", MetricType::Counter, "webhook",
     "records_sent"},
    {"outpost_acct_webhook_failures_total",
     "Accounting webhook POSTs that failed (non-2xx, refused, timed out); each is retried.",
     MetricType::Counter, "webhook", "failures"},
    {"outpost_acct_pipe_records_behind",
     "Accounting records waiting on disk for the accounting pipe's program (approximate).",
     MetricType::Gauge, "pipe", "records_behind"},
    {"outpost_acct_pipe_bytes_behind",
     "Accounting bytes waiting on disk for the accounting pipe's program.", MetricType::Gauge,
     "pipe", "bytes_behind"},
    {"outpost_acct_pipe_records_sent_total",
     "Accounting records the accounting pipe's program read.", MetricType::Counter, "pipe",
     "records_sent"},
    {"outpost_acct_pipe_failures_total",
     "Failed writes to the accounting pipe (its program exited or could not start).",
     MetricType::Counter, "pipe", "failures"},
    {"outpost_acct_pipe_restarts_total",
     "Times the accounting pipe's program was started again after it exited.", MetricType::Counter,
     "pipe", "restarts"},
}};

const std::array<StatusByDirection, 4> kStatusByDirection = {{
    {"outpost_connections",
     "Current SMTP connections (in: clients; out: open or opening).",
     MetricType::Gauge,
     {"connections", "smtp_in"},
     {"connections", "smtp_out"}},
    {"outpost_traffic_messages_total",
     "Messages accepted (in) / delivered (out) since start.",
     MetricType::Counter,
     {"traffic", "in", "total"},
     {"traffic", "out", "total"}},
    {"outpost_traffic_recipients_total",
     "Recipients accepted (in) / delivered (out).",
     MetricType::Counter,
     {"traffic", "in", "total"},
     {"traffic", "out", "total"}},
    {"outpost_traffic_bytes_total",
     "Message bytes accepted (in) / delivered (out).",
     MetricType::Counter,
     {"traffic", "in", "total"},
     {"traffic", "out", "total"}},
}};

namespace {

constexpr const char* kStatusSchemaV1 = "outpost.status/v1";
constexpr const char* kQueuesSchemaV1 = "outpost.queues/v1";
constexpr const char* kVmtasSchemaV1 = "outpost.vmtas/v1";

// The field a traffic metric reads under traffic.<dir>.total.
const char* TrafficField(const char* metric) {
  std::string n = metric;
  if (n == "outpost_traffic_messages_total") return "messages";
  if (n == "outpost_traffic_recipients_total") return "recipients";
  if (n == "outpost_traffic_bytes_total") return "bytes";
  return nullptr;
}

// The result of looking a number up: absent (omit the metric), present, or a type error.
enum class Lookup { kAbsent, kNumber, kWrongType };

// Walks `path` (then `leaf`, if not null) from `root`. A missing member anywhere is kAbsent; a
// non-object on the way or a non-number at the end is kWrongType, except a boolean, read as 1 / 0
// (accounting.writable).
Lookup FindNumber(const Json& root, const std::array<const char*, 3>& path, const char* leaf,
                  double* out) {
  const Json* cur = &root;
  auto step = [&cur](const char* key) {
    if (!cur->is_object()) return Lookup::kWrongType;
    auto it = cur->find(key);
    if (it == cur->end()) return Lookup::kAbsent;
    cur = &*it;
    return Lookup::kNumber;
  };
  for (const char* key : path) {
    if (key == nullptr) break;
    if (Lookup l = step(key); l != Lookup::kNumber) return l;  // kNumber here: "found"
  }
  if (leaf != nullptr) {
    if (Lookup l = step(leaf); l != Lookup::kNumber) return l;
  }
  if (cur->is_boolean()) {
    *out = cur->get<bool>() ? 1 : 0;
    return Lookup::kNumber;
  }
  if (!cur->is_number()) return Lookup::kWrongType;
  *out = cur->get<double>();
  return Lookup::kNumber;
}

prometheus::MetricFamily Family(const char* name, const char* help, MetricType type) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  return f;
}

void AddSample(prometheus::MetricFamily& f, double v, const char* label = nullptr,
               const std::string& value = std::string()) {
  prometheus::ClientMetric m;
  if (label != nullptr) m.label.push_back(prometheus::ClientMetric::Label{label, value});
  if (f.type == MetricType::Counter) {
    m.counter.value = v;
  } else {
    m.gauge.value = v;
  }
  f.metric.push_back(std::move(m));
}

// A document's failure, recorded in `m` (the first one also becomes the log text).
void Fail(StatusMapping& m, StatusErrorReason r, const std::string& what) {
  m.errors.push_back(r);
  if (m.error_text.empty()) m.error_text = what;
}

// Checks the transport, the HTTP status and the JSON of one answer; returns the parsed object,
// or nullopt after recording the failure. `ok_statuses` lists the statuses that carry a document.
std::optional<Json> ParseAnswer(const FetchResult& r, const char* what,
                                std::initializer_list<int> ok_statuses, StatusMapping& m) {
  if (r.transport_error) {
    Fail(m, *r.transport_error, std::string(what) + ": " + r.detail);
    return std::nullopt;
  }
  if (std::find(ok_statuses.begin(), ok_statuses.end(), r.http_status) == ok_statuses.end()) {
    Fail(m, StatusErrorReason::kHttpStatus,
         std::string(what) + ": HTTP status " + std::to_string(r.http_status));
    return std::nullopt;
  }
  Json j = Json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    Fail(m, StatusErrorReason::kBadJson, std::string(what) + ": body is not JSON");
    return std::nullopt;
  }
  if (!j.is_object()) {
    Fail(m, StatusErrorReason::kSchema, std::string(what) + ": body is not a JSON object");
    return std::nullopt;
  }
  return j;
}

bool HasSchema(const Json& j, const char* schema) {
  auto it = j.find("schema");
  return it != j.end() && it->is_string() && it->get_ref<const std::string&>() == schema;
}

// A named item of a list (queue or vmta) with its recipients.
struct NamedCount {
  std::string name;
  double recipients = 0;
  double backoff_seconds = 0;
  std::optional<double> oldest_age_seconds;  // absent from an older outpostd
};

// Reads `items` (an array of objects with string `name_key` and number "recipients").
bool ReadNamedCounts(const Json& items, const char* name_key, std::vector<NamedCount>* out) {
  if (!items.is_array()) return false;
  for (const Json& item : items) {
    if (!item.is_object()) return false;
    auto n = item.find(name_key);
    auto r = item.find("recipients");
    if (n == item.end() || !n->is_string() || r == item.end() || !r->is_number()) return false;
    NamedCount c{n->get<std::string>(), r->get<double>(), 0, std::nullopt};
    if (auto b = item.find("backoff_seconds"); b != item.end()) {
      if (!b->is_number()) return false;
      c.backoff_seconds = b->get<double>();
    }
    if (auto a = item.find("oldest_age_seconds"); a != item.end()) {
      if (!a->is_number()) return false;
      c.oldest_age_seconds = a->get<double>();
    }
    out->push_back(std::move(c));
  }
  return true;
}

// Largest first, ties by name, so that the kept set is deterministic.
void SortByRecipients(std::vector<NamedCount>& v) {
  std::sort(v.begin(), v.end(), [](const NamedCount& a, const NamedCount& b) {
    return a.recipients != b.recipients ? a.recipients > b.recipients : a.name < b.name;
  });
}

// After SortByRecipients: keeps the first (largest) item of each name. A name listed twice would
// otherwise give two series with the same labels, and Prometheus refuses the whole scrape.
void KeepFirstOfEachName(std::vector<NamedCount>& v) {
  std::set<std::string> seen;
  std::vector<NamedCount> kept;
  for (const NamedCount& c : v) {
    if (seen.insert(c.name).second) kept.push_back(c);
  }
  v = std::move(kept);
}

// accounting.feeds -> one family per kStatusFeedMetrics entry, a series per feed of its kind.
// Absent (an older outpostd): no family. False on a schema error.
bool MapAcctFeeds(const Json& doc, std::vector<prometheus::MetricFamily>& fams,
                  std::string* error) {
  const Json* feeds = nullptr;
  if (auto a = doc.find("accounting"); a != doc.end() && a->is_object()) {
    if (auto f = a->find("feeds"); f != a->end()) feeds = &*f;
  }
  if (feeds == nullptr) return true;
  *error = "status.json: accounting.feeds is not a list of {feed, kind, figures}";
  if (!feeds->is_array()) return false;
  std::vector<prometheus::MetricFamily> out;
  for (const StatusFeedMetric& m : kStatusFeedMetrics)
    out.push_back(Family(m.name, m.help, m.type));
  std::set<std::string> seen;
  for (const Json& item : *feeds) {
    if (!item.is_object() || !item.contains("feed") || !item["feed"].is_string() ||
        !item.contains("kind") || !item["kind"].is_string()) {
      return false;
    }
    const std::string kind = item["kind"].get<std::string>();
    const std::string feed = item["feed"].get<std::string>();
    if (!seen.insert(kind + " " + feed).second) continue;
    for (std::size_t i = 0; i < kStatusFeedMetrics.size(); ++i) {
      const StatusFeedMetric& m = kStatusFeedMetrics[i];
      if (kind != m.kind) continue;
      double v = 0;
      const Lookup l = FindNumber(item, {nullptr, nullptr, nullptr}, m.field, &v);
      if (l == Lookup::kWrongType) return false;
      if (l == Lookup::kNumber) AddSample(out[i], v, "feed", feed);
    }
  }
  error->clear();
  for (auto& f : out) {
    if (!f.metric.empty()) fams.push_back(std::move(f));
  }
  return true;
}

// /status.json -> families. False (and nothing appended) on a schema error.
bool MapStatusDocument(const Json& doc, const StatusMappingLimits& limits,
                       std::vector<prometheus::MetricFamily>& out, std::string* error) {
  std::vector<prometheus::MetricFamily> fams;
  if (!HasSchema(doc, kStatusSchemaV1)) {
    *error = "status.json: \"schema\" is not \"outpost.status/v1\"";
    return false;
  }
  for (const StatusScalar& s : kStatusScalars) {
    double v = 0;
    Lookup l = FindNumber(doc, s.path, nullptr, &v);
    if (l == Lookup::kWrongType) {
      *error = std::string("status.json: wrong type for ") + s.name;
      return false;
    }
    if (l == Lookup::kAbsent) continue;
    if (std::string(s.name) == "outpost_process_max_fds" && v < 0) continue;  // unlimited
    fams.push_back(Family(s.name, s.help, s.type));
    AddSample(fams.back(), v);
  }
  if (!MapAcctFeeds(doc, fams, error)) return false;
  for (const StatusByDirection& s : kStatusByDirection) {
    const char* leaf = TrafficField(s.name);
    prometheus::MetricFamily f = Family(s.name, s.help, s.type);
    for (auto [dir, path] : {std::pair{"in", &s.in_path}, std::pair{"out", &s.out_path}}) {
      double v = 0;
      Lookup l = FindNumber(doc, *path, leaf, &v);
      if (l == Lookup::kWrongType) {
        *error = std::string("status.json: wrong type for ") + s.name + "{direction=" + dir + "}";
        return false;
      }
      if (l == Lookup::kNumber) AddSample(f, v, "direction", dir);
    }
    if (!f.metric.empty()) fams.push_back(std::move(f));
  }
  {
    prometheus::MetricFamily f =
        Family("outpost_queue_recipients_by_mode",
               "Queued recipients by queue mode (normal, backoff, paused).", MetricType::Gauge);
    for (const char* mode : {"normal", "backoff", "paused"}) {
      double v = 0;
      Lookup l = FindNumber(doc, {"queue", "by_mode", mode}, "recipients", &v);
      if (l == Lookup::kWrongType) {
        *error = std::string("status.json: wrong type for queue.by_mode.") + mode;
        return false;
      }
      if (l == Lookup::kNumber) AddSample(f, v, "mode", mode);
    }
    if (!f.metric.empty()) fams.push_back(std::move(f));
  }
  if (auto it = doc.find("backoff_queues"); it != doc.end()) {
    std::vector<NamedCount> backoff;
    if (!ReadNamedCounts(*it, "name", &backoff)) {
      *error = "status.json: backoff_queues is not a list of {name, recipients}";
      return false;
    }
    SortByRecipients(backoff);
    KeepFirstOfEachName(backoff);
    if (backoff.size() > limits.top_queues) backoff.resize(limits.top_queues);
    prometheus::MetricFamily f = Family(
        "outpost_queue_backoff_seconds",
        "Seconds since the queue entered backoff (0 if the status API does not say); at most "
        "--top-queues queues, largest first.",
        MetricType::Gauge);
    for (const NamedCount& q : backoff) AddSample(f, q.backoff_seconds, "queue", q.name);
    if (!f.metric.empty()) fams.push_back(std::move(f));
  }
  for (auto& f : fams) out.push_back(std::move(f));
  return true;
}

// /queues.json?top=N -> outpost_top_queue_recipients. False on a schema error.
bool MapQueuesDocument(const Json& doc, const StatusMappingLimits& limits,
                       std::vector<prometheus::MetricFamily>& out) {
  std::vector<NamedCount> queues;
  auto it = doc.find("queues");
  if (!HasSchema(doc, kQueuesSchemaV1) || it == doc.end() ||
      !ReadNamedCounts(*it, "name", &queues)) {
    return false;
  }
  SortByRecipients(queues);
  KeepFirstOfEachName(queues);
  prometheus::MetricFamily f =
      Family("outpost_top_queue_recipients",
             "Queued recipients of the largest queues (domain/vmta; at most --top-queues).",
             MetricType::Gauge);
  for (std::size_t i = 0; i < queues.size() && i < limits.top_queues; ++i) {
    if (queues[i].recipients <= 0) break;  // idle queues are not series
    AddSample(f, queues[i].recipients, "queue", queues[i].name);
  }
  if (!f.metric.empty()) out.push_back(std::move(f));
  return true;
}

// /vmtas.json -> outpost_queue_recipients_by_vmta, capped. False on a schema error.
bool MapVmtasDocument(const Json& doc, const StatusMappingLimits& limits,
                      std::vector<prometheus::MetricFamily>& out) {
  std::vector<NamedCount> vmtas;
  auto it = doc.find("vmtas");
  if (!HasSchema(doc, kVmtasSchemaV1) || it == doc.end() || !ReadNamedCounts(*it, "vmta", &vmtas)) {
    return false;
  }
  SortByRecipients(vmtas);
  // The largest max_vmtas keep their name; the rest (and a vmta really named "other") add up.
  std::map<std::string, double> kept;
  std::map<std::string, double> oldest;  // the capped ones: the oldest of them
  for (std::size_t i = 0; i < vmtas.size(); ++i) {
    const bool capped = i >= limits.max_vmtas || vmtas[i].name == "other";
    const std::string name = capped ? std::string("other") : vmtas[i].name;
    kept[name] += vmtas[i].recipients;
    if (vmtas[i].oldest_age_seconds) {
      oldest[name] = std::max(oldest[name], *vmtas[i].oldest_age_seconds);
    }
  }
  prometheus::MetricFamily f =
      Family("outpost_queue_recipients_by_vmta",
             "Queued recipients per virtual MTA (at most --max-vmtas, the rest in vmta=\"other\").",
             MetricType::Gauge);
  for (const auto& [name, v] : kept) AddSample(f, v, "vmta", name);
  if (!f.metric.empty()) out.push_back(std::move(f));
  prometheus::MetricFamily age =
      Family("outpost_queue_oldest_message_age_seconds_by_vmta",
             "Time in queue of the oldest recipient waiting, per virtual MTA (capped as by_vmta).",
             MetricType::Gauge);
  for (const auto& [name, v] : oldest) AddSample(age, v, "vmta", name);
  if (!age.metric.empty()) out.push_back(std::move(age));
  return true;
}

}  // namespace

StatusMapping MapStatus(const StatusFetches& fetches, const StatusMappingLimits& limits) {
  StatusMapping m;
  auto status = ParseAnswer(fetches.status, "status.json", {200}, m);
  if (!status) return m;
  std::string error;
  if (!MapStatusDocument(*status, limits, m.families, &error)) {
    Fail(m, StatusErrorReason::kSchema, error);
    return m;
  }
  m.up = true;

  if (fetches.queues) {
    auto q = ParseAnswer(*fetches.queues, "queues.json", {200}, m);
    if (q && !MapQueuesDocument(*q, limits, m.families)) {
      Fail(m, StatusErrorReason::kSchema, "queues.json: not an outpost.queues/v1 document");
    }
  }
  if (fetches.vmtas) {
    auto v = ParseAnswer(*fetches.vmtas, "vmtas.json", {200}, m);
    if (v && !MapVmtasDocument(*v, limits, m.families)) {
      Fail(m, StatusErrorReason::kSchema, "vmtas.json: not an outpost.vmtas/v1 document");
    }
  }
  if (fetches.ready) {
    // 200 {"ready":true} or 503 {"ready":false}: both are answers, not errors.
    auto r = ParseAnswer(*fetches.ready, "ready", {200, 503}, m);
    if (r) {
      auto it = r->find("ready");
      if (it == r->end() || !it->is_boolean()) {
        Fail(m, StatusErrorReason::kSchema, "ready: no boolean \"ready\"");
      } else {
        prometheus::MetricFamily f = Family(
            "outpost_ready", "1 if /ready says ready (spool healthy, not refusing mail), else 0.",
            MetricType::Gauge);
        AddSample(f, it->get<bool>() && fetches.ready->http_status == 200 ? 1 : 0);
        m.families.push_back(std::move(f));
      }
    }
  }
  return m;
}

}  // namespace outpost::exporter
