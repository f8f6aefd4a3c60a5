#include "mta/mgmt/status_json.hpp"

#include <algorithm>
#include <array>
#include <ctime>
#include <map>
#include <utility>

#include "mta/queue/queue_name.hpp"

namespace outpost::mgmt {
namespace {

using nlohmann::json;

using Snap = bus::MetricSnapshot;

json WindowJson(const Snap& metric, std::string_view label = {}) {
  const bus::WindowCounts w = metric.Windows(label);
  return {{"total", metric.Value(label)},
          {"last_1m", w.last_1m},
          {"last_5m", w.last_5m},
          {"last_1h", w.last_1h},
          {"rate_1m", static_cast<double>(w.last_1m)},
          {"rate_5m", static_cast<double>(w.last_5m) / 5.0},
          {"rate_1h", static_cast<double>(w.last_1h) / 60.0}};
}

// One direction's traffic: {"total"|"last_minute"|"last_hour": {messages, recipients, bytes}}.
json TrafficJson(const Snap& messages, const Snap& recipients, const Snap& bytes) {
  json out = json::object();
  const std::pair<const char*, int> periods[] = {
      {"total", 0}, {"last_minute", 1}, {"last_hour", 2}};
  const std::pair<const char*, const Snap*> whats[] = {
      {"messages", &messages}, {"recipients", &recipients}, {"bytes", &bytes}};
  for (const auto& [period, which] : periods) {
    json p = json::object();
    for (const auto& [what, metric] : whats) {
      const bus::WindowCounts w = metric->Windows();
      p[what] = which == 0 ? metric->Value() : which == 1 ? w.last_1m : w.last_1h;
    }
    out[period] = p;
  }
  return out;
}

// The four outcome families by one label (domain or vmta), in JSON field order.
struct OutcomeFamilies {
  std::array<std::pair<const char*, const Snap*>, 4> by_kind;
  const Snap& delivered() const { return *by_kind[0].second; }
  const Snap& deferred() const { return *by_kind[1].second; }
  const Snap& bounced() const { return *by_kind[2].second; }
};

OutcomeFamilies ByDomain(const OutcomeMetrics::Snapshot& o) {
  return {{{{"delivered", &o.domain_delivered_total},
            {"deferred", &o.domain_deferred_total},
            {"bounced", &o.domain_bounced_total},
            {"queue_failures", &o.domain_queue_failures_total}}}};
}

OutcomeFamilies ByVmta(const OutcomeMetrics::Snapshot& o) {
  return {{{{"delivered", &o.vmta_delivered_total},
            {"deferred", &o.vmta_deferred_total},
            {"bounced", &o.vmta_bounced_total},
            {"queue_failures", &o.vmta_queue_failures_total}}}};
}

json QueueJson(const queue::QueueStats& q) {
  auto key = queue::ParseQueueName(q.name);
  json out = {{"name", q.name},
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
              {"oldest_age_seconds", q.oldest_age_seconds},
              {"stalled", q.stalled},
              {"last_error", q.last_error}};
  if (!q.cold_vmta.empty()) {  // IP warm-up: this warm queue's cold virtual MTA
    out["cold_vmta"] = {{"name", q.cold_vmta}, {"today", q.cold_today}, {"limit", q.cold_limit}};
  }
  return out;
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
  std::uint64_t oldest_age_seconds = 0;
  std::string last_error;
};

std::map<std::string, Aggregate> AggregateBy(const StatusInputs& in, bool by_domain,
                                             const OutcomeFamilies& families) {
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
    a.oldest_age_seconds = std::max(a.oldest_age_seconds, q.oldest_age_seconds);
    if (!q.last_error.empty()) a.last_error = q.last_error;
  }
  // Names that only the outcome counters know (e.g. queues already emptied) are listed too.
  for (const auto& [what, family] : families.by_kind) {
    for (const auto& s : family->series) out.try_emplace(s.label);
  }
  return out;
}

json OutcomesJson(const OutcomeFamilies& families, const std::string& label) {
  json out = json::object();
  for (const auto& [what, family] : families.by_kind) out[what] = WindowJson(*family, label);
  const auto d = families.delivered().Windows(label);
  const auto t = families.deferred().Windows(label);
  const auto b = families.bounced().Windows(label);
  out["deferral_ratio_1h"] = Ratio(t.last_1h, d.last_1h + t.last_1h + b.last_1h);
  out["bounce_ratio_1h"] = Ratio(b.last_1h, d.last_1h + t.last_1h + b.last_1h);
  return out;
}

// Totals over every domain: the per-domain families summed.
json OutcomeTotalsJson(const OutcomeMetrics::Snapshot& o) {
  json out = json::object();
  for (const auto& [what, family] : ByDomain(o).by_kind) {
    const bus::WindowCounts w = family->SumWindows();
    out[what] = {{"total", family->Sum()},
                 {"last_1m", w.last_1m},
                 {"last_5m", w.last_5m},
                 {"last_1h", w.last_1h}};
  }
  return out;
}

// "queue" and "backoff_queues" of /status.json.
std::pair<json, json> QueueSectionJson(const StatusInputs& in) {
  const auto& t = in.queues->totals;
  const auto& families = in.metrics.queue_families;
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
    by_mode[mode] = {{"recipients", families.mode_recipients.Value(mode)},
                     {"messages", families.mode_messages.Value(mode)}};
  }
  json queue = {{"queues", t.queues},
                {"recipients", t.recipients},
                {"messages", t.messages},
                {"active_recipients", t.active_recipients},
                {"recipients_in_backoff", t.recipients_in_backoff},
                {"queues_in_backoff", t.queues_in_backoff},
                {"paused_queues", paused},
                {"admission_refusals", t.admission_refusals},
                {"mode_changes", t.mode_changes},
                {"dsns", t.dsns},
                {"oldest_age_seconds", t.oldest_age_seconds},
                {"stalls", t.stalls},
                {"stalled_queues", t.stalled_queues},
                {"by_mode", by_mode}};
  return {std::move(queue), std::move(backoff)};
}

json ProcessJson(const bus::ProcessMetrics::Snapshot& p) {
  return {{"rss_bytes", p.process_resident_memory_bytes.Value()},
          {"swap_bytes", p.process_swap_bytes.Value()},
          {"open_fds", p.process_open_fds.Value()},
          {"max_fds", p.process_max_fds.Value()},
          {"cpu_seconds", static_cast<double>(p.process_cpu_milliseconds_total.Value()) / 1000.0},
          {"uptime_seconds", p.process_uptime_seconds.Value()},
          {"invariant_violations", p.invariant_violations_total.Value()}};
}

json SpoolJson(const SpoolMetrics::Snapshot& s, const bus::ProcessMetrics::Snapshot& p) {
  return {{"healthy", s.spool_healthy.Value() != 0},
          {"entries", s.spool_entries.Value()},
          {"live_bytes", s.spool_live_bytes.Value()},
          {"bytes", s.spool_bytes.Value()},
          {"compactions", s.spool_compactions_total.Value()},
          {"compaction_bytes_copied", s.spool_compaction_copied_bytes_total.Value()},
          {"bytes_reclaimed", s.spool_compaction_reclaimed_bytes_total.Value()},
          {"compaction_errors", s.spool_compaction_errors_total.Value()},
          {"damaged", s.spool_damaged_total.Value()},
          {"disk_used_bytes", p.spool_disk_used_bytes.Value()},
          {"disk_free_bytes", p.spool_disk_free_bytes.Value()}};
}

json DnsJson(const ResolverMetrics::Snapshot& d) {
  const std::int64_t hits = d.dns_cache_hits_total.Value();
  const std::int64_t misses = d.dns_cache_misses_total.Value();
  return {{"cache_entries", d.dns_cache_entries.Value()},
          {"cache_hits", hits},
          {"cache_misses", misses},
          {"hit_ratio", Ratio(hits, hits + misses)},
          {"queries", d.dns_queries_total.Value()},
          {"failures", d.dns_failures_total.Value()}};
}

// The pool that makes DKIM signatures off the io thread (mta/delivery/work_pool.hpp).
json SigningPoolJson(const SigningPoolMetrics::Snapshot& p) {
  return {{"threads", p.signing_pool_threads.Value()},
          {"capacity", p.signing_pool_capacity.Value()},
          {"queued", p.signing_pool_queued.Value()},
          {"running", p.signing_pool_running.Value()},
          {"waiting", p.signing_pool_waiting.Value()},
          {"jobs", p.signing_pool_jobs_total.Value()},
          {"busy_fraction", static_cast<double>(p.signing_pool_busy_permille.Value()) / 1000.0},
          {"busy_seconds",
           static_cast<double>(p.signing_pool_busy_milliseconds_total.Value()) / 1000.0}};
}

// Not yet published (no tick has run): an absent reading counts as healthy / writable.
bool NotZero(const Snap& metric) { return metric.series.empty() || metric.Value() != 0; }

// Each accounting feed on its own (the `webhook` and `pipe` objects sum them).
json AcctFeedsJson(const std::vector<AcctFeedReading>& feeds) {
  json list = json::array();
  for (const AcctFeedReading& f : feeds) {
    list.push_back({{"feed", f.feed},
                    {"kind", f.pipe ? "pipe" : "webhook"},
                    {"records_behind", f.records_behind},
                    {"bytes_behind", f.bytes_behind},
                    {"oldest_unsent_seconds", f.oldest_unsent_seconds},
                    {"records_sent", f.records_sent},
                    {"failures", f.failures},
                    {"restarts", f.restarts}});
  }
  return list;
}

// Today's remote bounces and complaints per provider: {"day": "YYYY-MM-DD", "by_provider":
// {"gmail": {"remote_bounces": N, "complaints": N}, ...}}.
json ReturnPathJson(const returnpath::DayCounts& today) {
  json by_provider = json::object();
  for (const returnpath::ProviderDay& p : today.by_provider) {
    by_provider[p.provider] = {{"remote_bounces", p.remote_bounces}, {"complaints", p.complaints}};
  }
  return {{"day", today.day}, {"by_provider", std::move(by_provider)}};
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
  if (!NotZero(in.metrics.spool.spool_healthy)) {
    r.ready = false;
    r.reasons.push_back("spool unhealthy: commits are refused (disk full or write errors)");
  }
  if (!in.admitting) {
    r.ready = false;
    r.reasons.push_back("queue full: max-queued-recipients reached, injections get 452");
  }
  return r;
}

namespace {

// The suppression list (docs/powermta.md, "Suppression"); max_entries 0: the list is off.
json SuppressionJson(const AcctMetrics::Snapshot& a) {
  return {{"entries", a.suppression_entries.Value()},
          {"max_entries", a.suppression_max_entries.Value()},
          {"memory_bytes", a.suppression_memory_bytes.Value()},
          {"added",
           {{"complaint", a.suppression_complaints_added_total.Value()},
            {"hard_bounce", a.suppression_hard_bounces_added_total.Value()},
            {"manual", a.suppression_manual_added_total.Value()}}},
          {"removed", a.suppression_removed_total.Value()},
          {"expired", a.suppression_expired_total.Value()},
          {"refused_full", a.suppression_refused_full_total.Value()},
          {"write_errors", a.suppression_write_errors_total.Value()},
          {"suppressed_recipients", a.suppressed_recipients_total.Value()}};
}

}  // namespace

json RenderStatus(const StatusInputs& in) {
  const DaemonMetrics::Snapshot& m = in.metrics;
  const Readiness ready = ReadinessOf(in);
  auto [queue, backoff] = QueueSectionJson(in);
  return {
      {"schema", kStatusSchema},
      {"version", in.version},
      {"generated_at", IsoTime(in.now_unix)},
      {"queues_sampled_at", IsoTime(in.sampled_unix)},
      {"uptime_seconds", m.process.process_uptime_seconds.Value()},
      {"ready", ready.ready},
      {"not_ready_reasons", ready.reasons},
      {"connections",
       {{"smtp_in", m.smtp.connections_in.Value()},
        {"smtp_in_total", m.smtp.connections_in_total.Value()},
        {"smtp_out", in.queues->totals.connections}}},
      {"traffic",
       {{"in", TrafficJson(m.smtp.traffic_in_messages_total, m.smtp.traffic_in_recipients_total,
                           m.smtp.traffic_in_bytes_total)},
        {"out",
         TrafficJson(m.outcomes.traffic_out_messages_total, m.outcomes.traffic_out_recipients_total,
                     m.outcomes.traffic_out_bytes_total)}}},
      {"queue", std::move(queue)},
      {"outcomes", OutcomeTotalsJson(m.outcomes)},
      {"process", ProcessJson(m.process)},
      {"spool", SpoolJson(m.spool, m.process)},
      {"accounting",
       {{"writable", NotZero(m.acct.acct_writable)},
        {"buffered_bytes", m.acct.acct_buffered_bytes.Value()},
        {"write_errors", m.acct.acct_write_errors_total.Value()},
        {"held_recipients", m.queue_totals.acct_held_completions.Value()},
        {"webhook",
         {{"records_behind", m.acct.acct_webhook_records_behind.Value()},
          {"bytes_behind", m.acct.acct_webhook_bytes_behind.Value()},
          {"oldest_unsent_seconds", m.acct.acct_webhook_oldest_unsent_seconds.Value()},
          {"records_sent", m.acct.acct_webhook_records_sent_total.Value()},
          {"failures", m.acct.acct_webhook_failures_total.Value()}}},
        {"pipe",
         {{"records_behind", m.acct.acct_pipe_records_behind.Value()},
          {"bytes_behind", m.acct.acct_pipe_bytes_behind.Value()},
          {"records_sent", m.acct.acct_pipe_records_sent_total.Value()},
          {"failures", m.acct.acct_pipe_failures_total.Value()},
          {"restarts", m.acct.acct_pipe_restarts_total.Value()}}},
        {"feeds", AcctFeedsJson(in.acct_feeds)}}},
      {"suppression", SuppressionJson(m.acct)},
      {"dkim",
       {{"signed", m.dkim.dkim_signed_total.Value()},
        {"unsigned_no_key", m.dkim.dkim_unsigned_no_key_total.Value()},
        {"sign_failures", m.dkim.dkim_sign_failures_total.Value()},
        {"domainkeys_signed", m.dkim.domainkeys_signed_total.Value()},
        {"domainkeys_failures", m.dkim.domainkeys_sign_failures_total.Value()}}},
      {"signing_pool", SigningPoolJson(m.signing_pool)},
      {"interop",
       {{"tls_fallbacks", m.tls.tls_fallbacks_total.Value()},
        {"tls_failures_remembered", m.tls.tls_failures_remembered.Value()},
        {"converted_8bit", m.mime.mime_8bit_converted_total.Value()},
        {"refused_8bit", m.mime.mime_8bit_refused_total.Value()}}},
      {"dns", DnsJson(m.dns)},
      {"config",
       {{"reloads", m.mgmt.config_reloads_total.Value()},
        {"reload_failures", m.mgmt.config_reload_failures_total.Value()},
        {"last_reload_errors", in.last_reload_errors}}},
      {"returnpath", ReturnPathJson(in.returnpath_today)},
      {"backoff_queues", std::move(backoff)},
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
  const OutcomeFamilies families = ByDomain(in.metrics.outcomes);
  for (const auto& [name, a] : AggregateBy(in, /*by_domain=*/true, families)) {
    json d = OutcomesJson(families, name);
    d["domain"] = name;
    d["queues"] = a.queues;
    d["recipients"] = a.recipients;
    d["messages"] = a.messages;
    d["connections"] = a.connections;
    d["backoff_queues"] = a.backoff_queues;
    d["paused_queues"] = a.paused_queues;
    d["oldest_age_seconds"] = a.oldest_age_seconds;
    d["last_error"] = a.last_error;
    domains.push_back(std::move(d));
  }
  return {{"schema", kDomainsSchema}, {"generated_at", IsoTime(in.now_unix)}, {"domains", domains}};
}

json RenderVmtas(const StatusInputs& in) {
  json vmtas = json::array();
  const OutcomeFamilies families = ByVmta(in.metrics.outcomes);
  for (const auto& [name, a] : AggregateBy(in, /*by_domain=*/false, families)) {
    json v = OutcomesJson(families, name);
    v["vmta"] = name;
    v["queues"] = a.queues;
    v["recipients"] = a.recipients;
    v["messages"] = a.messages;
    v["connections"] = a.connections;
    v["backoff_queues"] = a.backoff_queues;
    v["oldest_age_seconds"] = a.oldest_age_seconds;
    v["last_error"] = a.last_error;
    vmtas.push_back(std::move(v));
  }
  return {{"schema", kVmtasSchema}, {"generated_at", IsoTime(in.now_unix)}, {"vmtas", vmtas}};
}

std::vector<const queue::JobStats*> JobsByQueued(const queue::QueueSnapshot& snapshot) {
  std::vector<const queue::JobStats*> out;
  out.reserve(snapshot.jobs.size());
  for (const auto& j : snapshot.jobs) out.push_back(&j);
  std::sort(out.begin(), out.end(), [](const auto* a, const auto* b) {
    return a->recipients != b->recipients ? a->recipients > b->recipients : a->id < b->id;
  });
  return out;
}

json RenderJobs(const StatusInputs& in) {
  json jobs = json::array();
  for (const queue::JobStats* j : JobsByQueued(*in.queues)) {
    jobs.push_back({{"id", j->id},
                    {"paused", j->paused},
                    {"recipients", j->recipients},
                    {"messages", j->messages},
                    {"received", j->received},
                    {"delivered", j->delivered},
                    {"deferred", j->deferred},
                    {"bounced", j->bounced},
                    {"expired", j->expired},
                    {"deleted", j->deleted},
                    {"first_seen", IsoTime(j->first_seen_unix)},
                    {"last_seen", IsoTime(j->last_seen_unix)}});
  }
  return {{"schema", kJobsSchema}, {"generated_at", IsoTime(in.now_unix)}, {"jobs", jobs}};
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
