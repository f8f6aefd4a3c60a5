// DaemonMetrics: every list outpostd declares, registered together; names are unique, kinds fit
// the names, and Publish mirrors one DaemonReadings onto the sampled groups.
#include "mta/mgmt/daemon_metrics.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "common/clock.hpp"

namespace outpost::mgmt {
namespace {

TEST(BusCatalog, NamesAreUniqueAcrossSubsystems) {
  SimulatedClock time;
  bus::Registry registry(time);
  std::size_t declared = 0;
  for (auto list : {std::span<const bus::Descriptor>(OutcomeMetrics::kDescriptors),
                    std::span<const bus::Descriptor>(SmtpServerMetrics::kDescriptors),
                    std::span<const bus::Descriptor>(QueueTotalsMetrics::kDescriptors),
                    std::span<const bus::Descriptor>(QueueFamilyMetrics::kDescriptors),
                    std::span<const bus::Descriptor>(SpoolMetrics::kDescriptors),
                    std::span<const bus::Descriptor>(ResolverMetrics::kDescriptors),
                    std::span<const bus::Descriptor>(AcctMetrics::kDescriptors),
                    std::span<const bus::Descriptor>(DkimMetrics::kDescriptors),
                    std::span<const bus::Descriptor>(SigningPoolMetrics::kDescriptors),
                    std::span<const bus::Descriptor>(TlsMetrics::kDescriptors),
                    std::span<const bus::Descriptor>(MimeMetrics::kDescriptors),
                    std::span<const bus::Descriptor>(MgmtMetrics::kDescriptors),
                    std::span<const bus::Descriptor>(bus::ProcessMetrics::kDescriptors)}) {
    registry.Register(list);
    declared += list.size();
  }
  EXPECT_EQ(registry.Snapshot().metrics.size(), declared);
  DaemonMetrics::Register(registry);
  EXPECT_EQ(registry.Snapshot().metrics.size(), declared) << "DaemonMetrics covers every list";
}

TEST(BusCatalog, TotalsAreCountersAndOnlyTotalsAreCounters) {
  SimulatedClock time;
  bus::Registry registry(time);
  DaemonMetrics::Register(registry);
  for (const auto& m : registry.Snapshot().metrics) {
    const std::string name(m.descriptor.name);
    const bool total = name.ends_with("_total");
    const bool counts = m.descriptor.type != bus::MetricType::kGauge;
    EXPECT_EQ(total, counts) << name << " is a " << bus::MetricTypeName(m.descriptor.type);
    EXPECT_FALSE(m.descriptor.help.empty()) << name;
    EXPECT_FALSE(m.descriptor.unit.empty()) << name;
  }
}

TEST(DaemonMetrics, PublishMirrorsReadingsAndCountersNeverGoDown) {
  SimulatedClock time;
  bus::Registry registry(time);
  DaemonMetrics metrics = DaemonMetrics::Register(registry);
  DaemonReadings r;
  r.smtp.messages_accepted = 10;
  r.smtp.connections_current = 2;
  r.spool.entries = 7;
  r.spool.healthy = false;
  r.spool.compactions = 4;
  r.dns.cache_hits = 30;
  r.queues.totals.admission_refusals = 6;
  r.queues.totals.held_completions = 1;
  r.acct_writable = false;
  r.acct_write_errors = 2;
  r.dkim.signed_messages = 8;
  r.delivery.tls_failures_remembered = 3;
  r.mime.refused = 1;
  metrics.Publish(r);
  r.spool.compactions = 2;  // a producer's figure going down leaves the counter where it was
  r.smtp.messages_accepted = 15;
  metrics.Publish(r);
  const DaemonMetrics::Snapshot s = metrics.Take();
  EXPECT_EQ(s.smtp.traffic_in_messages_total.Value(), 15);
  EXPECT_EQ(s.smtp.traffic_in_messages_total.Windows().last_1m, 15) << "deltas reach windows";
  EXPECT_EQ(s.smtp.connections_in.Value(), 2);
  EXPECT_EQ(s.spool.spool_entries.Value(), 7);
  EXPECT_EQ(s.spool.spool_healthy.Value(), 0);
  EXPECT_EQ(s.spool.spool_compactions_total.Value(), 4);
  EXPECT_EQ(s.dns.dns_cache_hits_total.Value(), 30);
  EXPECT_EQ(s.queue_totals.admission_refusals_total.Value(), 6);
  EXPECT_EQ(s.queue_totals.acct_held_completions.Value(), 1);
  EXPECT_EQ(s.acct.acct_writable.Value(), 0);
  EXPECT_EQ(s.acct.acct_write_errors_total.Value(), 2);
  EXPECT_EQ(s.dkim.dkim_signed_total.Value(), 8);
  EXPECT_EQ(s.tls.tls_failures_remembered.Value(), 3);
  EXPECT_EQ(s.mime.mime_8bit_refused_total.Value(), 1);
  EXPECT_EQ(s.queue_families.mode_recipients.series.size(), 3u) << "normal, backoff, paused";
}

}  // namespace
}  // namespace outpost::mgmt

namespace outpost::mgmt {
namespace {

// Per-job queued recipients: the kTopJobs largest by name, the rest as "other"; a job that leaves
// the top goes to 0 (then expires), so the label set stays bounded.
TEST(DaemonMetrics, JobRecipientsAreTheTopJobsPlusOther) {
  SimulatedClock time;
  bus::Registry registry(time);
  const DaemonMetrics metrics = DaemonMetrics::Register(registry);
  queue::QueueSnapshot snap;
  for (std::size_t i = 0; i < kTopJobs + 3; ++i) {
    queue::JobStats j;
    j.id = "job" + std::to_string(i);
    j.recipients = 100 + i;  // job12 is the largest, job0..job2 the smallest
    snap.jobs.push_back(j);
  }
  snap.jobs.push_back(queue::JobStats{.id = "idle"});  // nothing queued: no series
  PublishQueues(metrics.queue_families, snap);
  const auto family = metrics.queue_families.job_recipients.Snapshot();
  EXPECT_EQ(family.series.size(), kTopJobs + 1);
  EXPECT_EQ(family.Value("job12"), 112);
  EXPECT_EQ(family.Value("other"), 100 + 101 + 102);
  EXPECT_EQ(family.Value("job0"), 0);

  snap.jobs[12].recipients = 0;  // job12 finished: job2 enters the top
  PublishQueues(metrics.queue_families, snap);
  const auto after = metrics.queue_families.job_recipients.Snapshot();
  EXPECT_EQ(after.Value("job12"), 0);
  EXPECT_EQ(after.Value("job2"), 102);
  EXPECT_EQ(after.Value("other"), 100 + 101);
}

}  // namespace
}  // namespace outpost::mgmt
