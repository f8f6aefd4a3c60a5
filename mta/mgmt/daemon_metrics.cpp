#include "mta/mgmt/daemon_metrics.hpp"

namespace outpost::mgmt {

#define OUTPOST_DAEMON_GROUP_REGISTER(Type, member) Type::Register(registry),
#define OUTPOST_DAEMON_GROUP_TAKE(Type, member) member.Take(),

DaemonMetrics DaemonMetrics::Register(bus::Registry& registry) {
  return DaemonMetrics{OUTPOST_DAEMON_METRIC_GROUPS(OUTPOST_DAEMON_GROUP_REGISTER)};
}

DaemonMetrics::Snapshot DaemonMetrics::Take() const {
  return Snapshot{OUTPOST_DAEMON_METRIC_GROUPS(OUTPOST_DAEMON_GROUP_TAKE)};
}

void DaemonMetrics::Publish(const DaemonReadings& readings) const {
  smtp.Publish(readings.smtp);
  queue_totals.Publish(readings.queues.totals);
  PublishQueues(queue_families, readings.queues);
  spool.Publish(readings.spool);
  dns.Publish(readings.dns);
  acct.Publish(readings);
  dkim.Publish(readings.dkim);
  signing_pool.Publish(readings.signing_pool);
  tls.Publish(readings.delivery);
  mime.Publish(readings.mime);
}

}  // namespace outpost::mgmt
