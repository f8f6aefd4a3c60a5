#include "exporter/acct_counts.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>

#include "common/strings.hpp"

namespace outpost::exporter {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

constexpr std::array<std::string_view, AcctCounts::kTypes> kTypeLabels = {
    "delivered", "bounced",       "deferred",     "queue_failure",
    "received",  "feedback_loop", "remote_bounce"};

// PowerMTA's bounce categories (docs/powermta.md) plus "success"; index 0 is "other".
constexpr std::array<std::string_view, 18> kCategories = {"other",
                                                          "bad-configuration",
                                                          "bad-connection",
                                                          "bad-domain",
                                                          "bad-mailbox",
                                                          "content-related",
                                                          "inactive-mailbox",
                                                          "invalid-sender",
                                                          "message-expired",
                                                          "no-answer-from-host",
                                                          "policy-related",
                                                          "protocol-errors",
                                                          "quota-issues",
                                                          "relaying-issues",
                                                          "routing-errors",
                                                          "spam-related",
                                                          "virus-related",
                                                          "success"};
// RFC 5965's (and RFC 6591's) registered Feedback-Type values; index 0 is "unknown": an empty
// value or one not registered. Outpost's f records and PowerMTA's both carry feedbackType.
constexpr std::array<std::string_view, 7> kFeedbackTypes = {
    "unknown", "abuse", "auth-failure", "fraud", "not-spam", "other", "virus"};
constexpr std::array<std::string_view, 3> kCategoryKinds = {"bounced", "deferred", "queue_failure"};

std::size_t CategoryIndex(std::string_view c) {
  for (std::size_t i = 1; i < kCategories.size(); ++i) {
    if (kCategories[i] == c) return i;
  }
  return 0;
}

std::size_t FeedbackTypeIndex(std::string_view t) {
  for (std::size_t i = 1; i < kFeedbackTypes.size(); ++i) {
    if (IEquals(kFeedbackTypes[i], t)) return i;
  }
  return 0;
}

bool IsHard(std::size_t cat) {
  return kCategories[cat] == "bad-mailbox" || kCategories[cat] == "inactive-mailbox" ||
         kCategories[cat] == "bad-domain";
}

template <std::size_t N>
void Observe(std::vector<std::uint64_t>& buckets, const std::array<double, N>& bounds, double v) {
  std::size_t i = 0;
  while (i < N && v > bounds[i]) ++i;
  ++buckets[i];
}

MetricFamily Family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

ClientMetric::Label L(std::string name, std::string_view value) {
  return ClientMetric::Label{std::move(name), std::string(value)};
}

void AddScalar(std::vector<MetricFamily>& out, const char* name, const char* help, MetricType type,
               double value) {
  MetricFamily f = Family(name, help, type);
  ClientMetric m;
  if (type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
  out.push_back(std::move(f));
}

}  // namespace

CappedLabel::CappedLabel(std::size_t max_values) : max_values_(max_values) {
  values_.push_back("other");
}

std::uint16_t CappedLabel::Index(std::string_view value) {
  if (value.empty()) value = "none";
  const std::uint64_t h = LabelCache::Hash(value);
  std::uint16_t idx = 0;
  if (cache_.Find(value, h, &idx)) return idx;
  std::string key(value);
  if (auto it = index_.find(key); it != index_.end()) {
    idx = it->second;
  } else if (values_.size() <= max_values_) {
    values_.push_back(key);
    idx = static_cast<std::uint16_t>(values_.size() - 1);
    index_.emplace(std::move(key), idx);
  }
  cache_.Insert(value, h, idx);
  return idx;
}

AcctCounts::AcctCounts(const ProviderMap& providers, CountsLimits limits)
    : providers_(providers.providers()), vmtas_(limits.max_vmtas), ips_(limits.max_source_ips) {
  records_.assign(kTypes * providers_.size() * vmtas_.capacity(), 0);
  by_ip_.assign(kTypes * providers_.size() * ips_.capacity(), 0);
  cats_.assign(kCategoryKinds.size() * providers_.size() * kCategories.size(), 0);
  remote_.assign(providers_.size() * kCategories.size() * vmtas_.capacity(), 0);
  feedback_.assign(providers_.size() * kFeedbackTypes.size() * vmtas_.capacity(), 0);
  delay_.assign(providers_.size(), Histogram{std::vector<std::uint64_t>(kDelayBuckets.size() + 1)});
  size_.assign(providers_.size(), Histogram{std::vector<std::uint64_t>(kSizeBuckets.size() + 1)});
}

std::size_t AcctCounts::CatIdx(std::size_t kind, std::size_t prov, std::size_t cat) const {
  return (kind * providers_.size() + prov) * kCategories.size() + cat;
}

std::size_t AcctCounts::RbIdx(std::size_t prov, std::size_t cat, std::size_t v) const {
  return (prov * kCategories.size() + cat) * vmtas_.capacity() + v;
}

std::size_t AcctCounts::FbIdx(std::size_t prov, std::size_t type, std::size_t v) const {
  return (prov * kFeedbackTypes.size() + type) * vmtas_.capacity() + v;
}

void AcctCounts::Add(const ParsedRecord& r, std::uint16_t provider) {
  const std::size_t type = static_cast<std::size_t>(r.type);
  const std::uint16_t vmta = vmtas_.Index(r.vmta);
  ++records_[RecIdx(type, provider, vmta)];
  if (!r.source_ip.empty()) ++by_ip_[IpIdx(type, provider, ips_.Index(r.source_ip))];
  if (r.time_logged > health.last_record_time) health.last_record_time = r.time_logged;
  switch (r.type) {
    case acct::RecordType::kBounced:
      ++cats_[CatIdx(0, provider, CategoryIndex(r.bounce_cat))];
      break;
    case acct::RecordType::kTransient:
      ++cats_[CatIdx(1, provider, CategoryIndex(r.bounce_cat))];
      break;
    case acct::RecordType::kTransientQueue:
      ++cats_[CatIdx(2, provider, CategoryIndex(r.bounce_cat))];
      break;
    case acct::RecordType::kRemoteBounce:
      ++remote_[RbIdx(provider, CategoryIndex(r.bounce_cat), vmta)];
      break;
    case acct::RecordType::kFeedback:
      ++feedback_[FbIdx(provider, FeedbackTypeIndex(r.feedback_type), vmta)];
      break;
    case acct::RecordType::kDelivered: {
      if (r.time_logged >= 0 && r.time_queued >= 0) {
        double d = static_cast<double>(std::max<std::int64_t>(0, r.time_logged - r.time_queued));
        Histogram& h = delay_[provider];
        Observe(h.buckets, kDelayBuckets, d);
        h.sum += d;
        ++h.count;
      }
      if (r.size >= 0) {
        Histogram& h = size_[provider];
        double s = static_cast<double>(r.size);
        Observe(h.buckets, kSizeBuckets, s);
        h.sum += s;
        ++h.count;
      }
      break;
    }
    default:
      break;
  }
}

std::uint64_t AcctCounts::TotalOfType(acct::RecordType t) const {
  std::uint64_t n = 0;
  const std::size_t type = static_cast<std::size_t>(t);
  for (std::size_t p = 0; p < providers_.size(); ++p) {
    for (std::size_t v = 0; v < vmtas_.capacity(); ++v) n += records_[RecIdx(type, p, v)];
  }
  return n;
}

std::uint64_t AcctCounts::BouncesOfCategory(std::string_view category) const {
  std::uint64_t n = 0;
  for (std::size_t p = 0; p < providers_.size(); ++p) {
    n += cats_[CatIdx(0, p, CategoryIndex(category))];
  }
  return n;
}

// Sum over providers and vmtas of one label value of an rb / f array ([provider][label][vmta]).
std::uint64_t AcctCounts::SumOfLabel(const std::vector<std::uint64_t>& counts, std::size_t labels,
                                     std::size_t label) const {
  std::uint64_t n = 0;
  for (std::size_t p = 0; p < providers_.size(); ++p) {
    for (std::size_t v = 0; v < vmtas_.capacity(); ++v) {
      n += counts[(p * labels + label) * vmtas_.capacity() + v];
    }
  }
  return n;
}

std::uint64_t AcctCounts::RemoteBouncesOfCategory(std::string_view category) const {
  return SumOfLabel(remote_, kCategories.size(), CategoryIndex(category));
}

std::uint64_t AcctCounts::FeedbackOfType(std::string_view feedback_type) const {
  return SumOfLabel(feedback_, kFeedbackTypes.size(), FeedbackTypeIndex(feedback_type));
}

std::size_t AcctCounts::ProviderOf(const std::string& name) const {
  for (std::size_t p = 0; p < providers_.size(); ++p) {
    if (providers_[p] == name) return p;
  }
  return 0;
}

// State-file form: label values spelled out (not indices), so a changed provider map or cap
// still restores every count (into "other" if a label no longer exists).
nlohmann::json AcctCounts::ToJson() const {
  using nlohmann::json;
  json j;
  json recs = json::array(), ips = json::array(), cats = json::array(), hists = json::array();
  for (std::size_t t = 0; t < kTypes; ++t) {
    for (std::size_t p = 0; p < providers_.size(); ++p) {
      for (std::size_t v = 0; v < vmtas_.values().size(); ++v) {
        if (auto n = records_[RecIdx(t, p, v)]) {
          recs.push_back({kTypeLabels[t], providers_[p], vmtas_.values()[v], n});
        }
      }
      for (std::size_t i = 0; i < ips_.values().size(); ++i) {
        if (auto n = by_ip_[IpIdx(t, p, i)]) {
          ips.push_back({kTypeLabels[t], providers_[p], ips_.values()[i], n});
        }
      }
    }
  }
  for (std::size_t k = 0; k < kCategoryKinds.size(); ++k) {
    for (std::size_t p = 0; p < providers_.size(); ++p) {
      for (std::size_t c = 0; c < kCategories.size(); ++c) {
        if (auto n = cats_[CatIdx(k, p, c)]) {
          cats.push_back({kCategoryKinds[k], providers_[p], kCategories[c], n});
        }
      }
    }
  }
  for (std::size_t p = 0; p < providers_.size(); ++p) {
    if (delay_[p].count || size_[p].count) {
      hists.push_back({providers_[p], delay_[p].buckets, delay_[p].sum, delay_[p].count,
                       size_[p].buckets, size_[p].sum, size_[p].count});
    }
  }
  j["records"] = std::move(recs);
  j["source_ips"] = std::move(ips);
  j["categories"] = std::move(cats);
  j["histograms"] = std::move(hists);
  j["returnpath"] = ReturnPathToJson();
  j["health"] = {health.lines_read,      health.malformed_lines, health.unknown_type_records,
                 health.headers_read,    health.rotations,       health.truncations,
                 health.files_opened,    health.state_writes,    health.state_write_errors,
                 health.last_record_time};
  return j;
}

bool AcctCounts::FromJson(const nlohmann::json& j, std::string* error) {
  try {
    auto type_of = [](const std::string& s) -> std::size_t {
      for (std::size_t t = 0; t < kTypes; ++t) {
        if (kTypeLabels[t] == s) return t;
      }
      throw std::runtime_error("unknown record type " + s);
    };
    for (const auto& e : j.at("records")) {
      records_[RecIdx(type_of(e.at(0)), ProviderOf(e.at(1)),
                      vmtas_.Index(e.at(2).get<std::string>()))] += e.at(3).get<std::uint64_t>();
    }
    for (const auto& e : j.at("source_ips")) {
      by_ip_[IpIdx(type_of(e.at(0)), ProviderOf(e.at(1)),
                   ips_.Index(e.at(2).get<std::string>()))] += e.at(3).get<std::uint64_t>();
    }
    for (const auto& e : j.at("categories")) {
      std::size_t k = 0;
      while (k < kCategoryKinds.size() && kCategoryKinds[k] != e.at(0).get<std::string>()) ++k;
      if (k == kCategoryKinds.size()) throw std::runtime_error("unknown category kind");
      cats_[CatIdx(k, ProviderOf(e.at(1)), CategoryIndex(e.at(2).get<std::string>()))] +=
          e.at(3).get<std::uint64_t>();
    }
    for (const auto& e : j.at("histograms")) {
      std::size_t p = ProviderOf(e.at(0));
      auto restore = [](Histogram& h, const nlohmann::json& b, double sum, std::uint64_t count) {
        auto v = b.get<std::vector<std::uint64_t>>();
        if (v.size() != h.buckets.size()) throw std::runtime_error("histogram bucket mismatch");
        for (std::size_t i = 0; i < v.size(); ++i) h.buckets[i] += v[i];
        h.sum += sum;
        h.count += count;
      };
      restore(delay_[p], e.at(1), e.at(2).get<double>(), e.at(3).get<std::uint64_t>());
      restore(size_[p], e.at(4), e.at(5).get<double>(), e.at(6).get<std::uint64_t>());
    }
    if (j.contains("returnpath")) ReturnPathFromJson(j.at("returnpath"));  // older states lack it
    const auto& h = j.at("health");
    health.lines_read = h.at(0);
    health.malformed_lines = h.at(1);
    health.unknown_type_records = h.at(2);
    health.headers_read = h.at(3);
    health.rotations = h.at(4);
    health.truncations = h.at(5);
    health.files_opened = h.at(6);
    health.state_writes = h.at(7);
    health.state_write_errors = h.at(8);
    health.last_record_time = h.at(9);
  } catch (const std::exception& e) {
    if (error) *error = std::string("bad counters in state: ") + e.what();
    return false;
  }
  return true;
}

// rb and f counts as [provider, category or feedback type, vmta, n] rows.
nlohmann::json AcctCounts::ReturnPathToJson() const {
  using nlohmann::json;
  json rb = json::array(), f = json::array();
  for (std::size_t p = 0; p < providers_.size(); ++p) {
    for (std::size_t v = 0; v < vmtas_.values().size(); ++v) {
      for (std::size_t c = 0; c < kCategories.size(); ++c) {
        if (auto n = remote_[RbIdx(p, c, v)]) {
          rb.push_back({providers_[p], kCategories[c], vmtas_.values()[v], n});
        }
      }
      for (std::size_t t = 0; t < kFeedbackTypes.size(); ++t) {
        if (auto n = feedback_[FbIdx(p, t, v)]) {
          f.push_back({providers_[p], kFeedbackTypes[t], vmtas_.values()[v], n});
        }
      }
    }
  }
  return json{{"remote_bounces", std::move(rb)}, {"feedback", std::move(f)}};
}

void AcctCounts::ReturnPathFromJson(const nlohmann::json& j) {
  for (const auto& e : j.at("remote_bounces")) {
    remote_[RbIdx(ProviderOf(e.at(0)), CategoryIndex(e.at(1).get<std::string>()),
                  vmtas_.Index(e.at(2).get<std::string>()))] += e.at(3).get<std::uint64_t>();
  }
  for (const auto& e : j.at("feedback")) {
    feedback_[FbIdx(ProviderOf(e.at(0)), FeedbackTypeIndex(e.at(1).get<std::string>()),
                    vmtas_.Index(e.at(2).get<std::string>()))] += e.at(3).get<std::uint64_t>();
  }
}

void AcctCounts::AppendFamilies(std::vector<MetricFamily>& out) const {
  AppendRecordFamilies(out);
  AppendCategoryFamilies(out);
  AppendReturnPathFamilies(out);
  AppendHistogram(out, "outpost_acct_delivery_delay_seconds",
                  "Delivered records: timeLogged minus timeQueued, by provider.", delay_,
                  kDelayBuckets);
  AppendHistogram(out, "outpost_acct_message_size_bytes",
                  "Delivered records: dlvSize, by provider.", size_, kSizeBuckets);
  AppendHealthFamilies(out);
}

// Records by type, provider and vmta; by type, provider and source IP.
void AcctCounts::AppendRecordFamilies(std::vector<MetricFamily>& out) const {
  {
    MetricFamily f =
        Family("outpost_acct_records_total",
               "Accounting records read, by record type, provider and vmta.", MetricType::Counter);
    for (std::size_t t = 0; t < kTypes; ++t) {
      for (std::size_t p = 0; p < providers_.size(); ++p) {
        for (std::size_t v = 0; v < vmtas_.values().size(); ++v) {
          if (auto n = records_[RecIdx(t, p, v)]) {
            ClientMetric m;
            m.label = {L("provider", providers_[p]), L("type", kTypeLabels[t]),
                       L("vmta", vmtas_.values()[v])};
            m.counter.value = static_cast<double>(n);
            f.metric.push_back(std::move(m));
          }
        }
      }
    }
    out.push_back(std::move(f));
  }
  {
    MetricFamily f =
        Family("outpost_acct_source_ip_records_total",
               "Accounting records by record type, provider and source IP (dlvSourceIp).",
               MetricType::Counter);
    for (std::size_t t = 0; t < kTypes; ++t) {
      for (std::size_t p = 0; p < providers_.size(); ++p) {
        for (std::size_t i = 0; i < ips_.values().size(); ++i) {
          if (auto n = by_ip_[IpIdx(t, p, i)]) {
            ClientMetric m;
            m.label = {L("provider", providers_[p]), L("source_ip", ips_.values()[i]),
                       L("type", kTypeLabels[t])};
            m.counter.value = static_cast<double>(n);
            f.metric.push_back(std::move(m));
          }
        }
      }
    }
    out.push_back(std::move(f));
  }
}

// b, t and tq records by provider and bounce category; hard bounces by provider.
void AcctCounts::AppendCategoryFamilies(std::vector<MetricFamily>& out) const {
  static constexpr const char* kCatNames[] = {"outpost_acct_bounces_total",
                                              "outpost_acct_deferrals_total",
                                              "outpost_acct_queue_failures_total"};
  static constexpr const char* kCatHelp[] = {
      "Bounce (b) records by provider and bounce category.",
      "Transient failure (t) records by provider and bounce category.",
      "Queue-level transient failure (tq) records by provider and bounce category."};
  MetricFamily hard =
      Family("outpost_acct_hard_bounces_total",
             "Bounces in a hard category (bad-mailbox, inactive-mailbox, bad-domain).",
             MetricType::Counter);
  for (std::size_t k = 0; k < kCategoryKinds.size(); ++k) {
    MetricFamily f = Family(kCatNames[k], kCatHelp[k], MetricType::Counter);
    for (std::size_t p = 0; p < providers_.size(); ++p) {
      std::uint64_t hard_n = 0;
      for (std::size_t c = 0; c < kCategories.size(); ++c) {
        if (auto n = cats_[CatIdx(k, p, c)]) {
          ClientMetric m;
          m.label = {L("category", kCategories[c]), L("provider", providers_[p])};
          m.counter.value = static_cast<double>(n);
          f.metric.push_back(std::move(m));
          if (IsHard(c)) hard_n += n;
        }
      }
      if (k == 0 && hard_n) {
        ClientMetric m;
        m.label = {L("provider", providers_[p])};
        m.counter.value = static_cast<double>(hard_n);
        hard.metric.push_back(std::move(m));
      }
    }
    out.push_back(std::move(f));
  }
  out.push_back(std::move(hard));
}

// rb records by provider, bounce category and vmta; f records by provider, feedback type and vmta.
void AcctCounts::AppendReturnPathFamilies(std::vector<MetricFamily>& out) const {
  MetricFamily rb = Family("outpost_acct_remote_bounces_total",
                           "Remote bounce (rb) records by provider, bounce category and vmta.",
                           MetricType::Counter);
  MetricFamily f =
      Family("outpost_acct_feedback_reports_total",
             "Feedback-loop (f) records by provider, feedback type and vmta.", MetricType::Counter);
  auto add = [](MetricFamily& fam, std::uint64_t n, std::vector<ClientMetric::Label> labels) {
    ClientMetric m;
    m.label = std::move(labels);
    m.counter.value = static_cast<double>(n);
    fam.metric.push_back(std::move(m));
  };
  for (std::size_t p = 0; p < providers_.size(); ++p) {
    for (std::size_t v = 0; v < vmtas_.values().size(); ++v) {
      const std::string& vmta = vmtas_.values()[v];
      for (std::size_t c = 0; c < kCategories.size(); ++c) {
        if (auto n = remote_[RbIdx(p, c, v)]) {
          add(rb, n,
              {L("category", kCategories[c]), L("provider", providers_[p]), L("vmta", vmta)});
        }
      }
      for (std::size_t t = 0; t < kFeedbackTypes.size(); ++t) {
        if (auto n = feedback_[FbIdx(p, t, v)]) {
          add(f, n,
              {L("feedback_type", kFeedbackTypes[t]), L("provider", providers_[p]),
               L("vmta", vmta)});
        }
      }
    }
  }
  out.push_back(std::move(rb));
  out.push_back(std::move(f));
}

void AcctCounts::AppendHistogram(std::vector<MetricFamily>& out, const char* name, const char* help,
                                 const std::vector<Histogram>& per_provider,
                                 std::span<const double> bounds) const {
  MetricFamily f = Family(name, help, MetricType::Histogram);
  for (std::size_t p = 0; p < providers_.size(); ++p) {
    const Histogram& h = per_provider[p];
    if (!h.count) continue;
    ClientMetric m;
    m.label = {L("provider", providers_[p])};
    m.histogram.sample_count = h.count;
    m.histogram.sample_sum = h.sum;
    std::uint64_t cum = 0;
    for (std::size_t i = 0; i < bounds.size(); ++i) {
      cum += h.buckets[i];
      m.histogram.bucket.push_back({cum, bounds[i]});
    }
    m.histogram.bucket.push_back({h.count, std::numeric_limits<double>::infinity()});
    f.metric.push_back(std::move(m));
  }
  out.push_back(std::move(f));
}

// The exporter's own health.
void AcctCounts::AppendHealthFamilies(std::vector<MetricFamily>& out) const {
  const ExporterHealth& h = health;
  const auto C = MetricType::Counter;
  const auto G = MetricType::Gauge;
  AddScalar(out, "outpost_exporter_lines_read_total",
            "Accounting lines read (records, headers and malformed lines).", C,
            static_cast<double>(h.lines_read));
  AddScalar(out, "outpost_exporter_malformed_lines_total",
            "Accounting lines that could not be parsed and were skipped.", C,
            static_cast<double>(h.malformed_lines));
  AddScalar(out, "outpost_exporter_unknown_type_records_total",
            "Well-formed records of a type the exporter does not count.", C,
            static_cast<double>(h.unknown_type_records));
  AddScalar(out, "outpost_exporter_headers_read_total", "Header lines read (one per file).", C,
            static_cast<double>(h.headers_read));
  AddScalar(out, "outpost_exporter_rotations_total",
            "Followed files renamed, moved or deleted (rotations seen).", C,
            static_cast<double>(h.rotations));
  AddScalar(out, "outpost_exporter_truncations_total",
            "Followed files truncated or rewritten in place (copytruncate seen).", C,
            static_cast<double>(h.truncations));
  AddScalar(out, "outpost_exporter_files_opened_total", "Accounting files opened.", C,
            static_cast<double>(h.files_opened));
  AddScalar(out, "outpost_exporter_state_writes_total", "State-file snapshots written.", C,
            static_cast<double>(h.state_writes));
  AddScalar(out, "outpost_exporter_state_write_errors_total", "State-file writes that failed.", C,
            static_cast<double>(h.state_write_errors));
  AddScalar(out, "outpost_acct_last_record_timestamp_seconds",
            "timeLogged of the newest record read (UNIX seconds).", G,
            static_cast<double>(h.last_record_time));
  AddScalar(out, "outpost_exporter_behind_bytes",
            "Bytes not yet read in the accounting files being followed.", G,
            static_cast<double>(h.bytes_behind));
  AddScalar(out, "outpost_exporter_files_followed", "Accounting files currently open.", G,
            static_cast<double>(h.files_followed));
}

}  // namespace outpost::exporter
