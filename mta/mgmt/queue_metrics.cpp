#include "mta/mgmt/queue_metrics.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <string>

namespace outpost::mgmt {
namespace {

// Sets a gauge only when its value changes, so that an unchanging labelled series ages and can
// expire (Series::Set refreshes last_update).
void SetIfChanged(bus::Metric& metric, const std::string& label, std::uint64_t value) {
  const auto v = static_cast<std::int64_t>(value);
  auto series = metric.With(label);
  if (series->value() != v) series->Set(v);
}

struct Sums {
  std::uint64_t recipients = 0;
  std::uint64_t messages = 0;
  std::uint64_t connections = 0;
  std::uint64_t oldest_age_seconds = 0;
};

// The kTopJobs jobs with most recipients queued by name, the others as "other"; a series of an
// earlier tick that is no longer among them goes to 0.
void PublishJobs(bus::Metric& metric, const queue::QueueSnapshot& snapshot) {
  std::vector<const queue::JobStats*> active;
  for (const auto& j : snapshot.jobs) {
    if (j.recipients > 0) active.push_back(&j);
  }
  std::sort(active.begin(), active.end(), [](const auto* a, const auto* b) {
    return a->recipients != b->recipients ? a->recipients > b->recipients : a->id < b->id;
  });
  std::set<std::string> shown{"other"};
  std::uint64_t other = 0;
  for (std::size_t i = 0; i < active.size(); ++i) {
    if (i < kTopJobs && active[i]->id != "other") {
      SetIfChanged(metric, active[i]->id, active[i]->recipients);
      shown.insert(active[i]->id);
    } else {
      other += active[i]->recipients;
    }
  }
  SetIfChanged(metric, "other", other);
  for (const auto& s : metric.Snapshot().series) {
    if (!shown.contains(s.label)) SetIfChanged(metric, s.label, 0);
  }
}

}  // namespace

void PublishQueues(const QueueFamilyMetrics& metrics, const queue::QueueSnapshot& snapshot) {
  std::map<std::string, Sums> by_vmta;
  std::map<std::string, Sums> by_mode{{"normal", {}}, {"backoff", {}}, {"paused", {}}};
  for (const auto& q : snapshot.queues) {
    SetIfChanged(metrics.queue_recipients, q.name, q.recipients);
    SetIfChanged(metrics.queue_messages, q.name, q.messages);
    SetIfChanged(metrics.queue_connections, q.name, q.connections);
    const std::size_t slash = q.name.rfind('/');
    Sums& v = by_vmta[slash == std::string::npos ? "" : q.name.substr(slash + 1)];
    Sums& m = by_mode[q.paused ? "paused" : q.mode];
    for (Sums* s : {&v, &m}) {
      s->recipients += q.recipients;
      s->messages += q.messages;
      s->connections += q.connections;
      s->oldest_age_seconds = std::max(s->oldest_age_seconds, q.oldest_age_seconds);
    }
  }
  for (const auto& [vmta, s] : by_vmta) {
    SetIfChanged(metrics.vmta_recipients, vmta, s.recipients);
    SetIfChanged(metrics.vmta_messages, vmta, s.messages);
    SetIfChanged(metrics.vmta_connections, vmta, s.connections);
    SetIfChanged(metrics.vmta_oldest_age_seconds, vmta, s.oldest_age_seconds);
  }
  for (const auto& [mode, s] : by_mode) {
    SetIfChanged(metrics.mode_recipients, mode, s.recipients);
    SetIfChanged(metrics.mode_messages, mode, s.messages);
  }
  PublishJobs(metrics.job_recipients, snapshot);
}

}  // namespace outpost::mgmt
