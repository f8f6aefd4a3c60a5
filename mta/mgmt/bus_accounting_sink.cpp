#include "mta/mgmt/bus_accounting_sink.hpp"

#include "mta/queue/queue_name.hpp"

namespace outpost::mgmt {

using queue::OutcomeKind;

BusAccountingSink::BusAccountingSink(bus::Registry& registry, queue::OutcomeSink& next)
    : metrics_(OutcomeMetrics::Register(registry)), next_(next) {}

void BusAccountingSink::Write(const queue::Outcome& outcome) {
  std::string domain;
  std::string vmta = outcome.vmta;
  if (auto key = queue::ParseQueueName(outcome.queue)) {
    domain = key->domain;
    if (vmta.empty()) vmta = key->vmta;
  } else {
    domain = queue::RecipientDomain(outcome.recipient);
  }
  bus::Metric* by_domain = nullptr;
  bus::Metric* by_vmta = nullptr;
  switch (outcome.kind) {
    case OutcomeKind::kDelivered: {
      by_domain = &metrics_.domain_delivered_total;
      by_vmta = &metrics_.vmta_delivered_total;
      metrics_.traffic_out_recipients_total.series().Add(1);
      if (messages_in_batch_
              .emplace(outcome.spool_id.segment, outcome.spool_id.offset, outcome.queue)
              .second) {
        metrics_.traffic_out_messages_total.series().Add(1);
        if (outcome.size > 0) {
          metrics_.traffic_out_bytes_total.series().Add(static_cast<std::int64_t>(outcome.size));
        }
      }
      break;
    }
    case OutcomeKind::kBounced:
    case OutcomeKind::kExpired:
    case OutcomeKind::kDeleted:
    case OutcomeKind::kDomainFailed:
      by_domain = &metrics_.domain_bounced_total;
      by_vmta = &metrics_.vmta_bounced_total;
      break;
    case OutcomeKind::kDeferred:
      by_domain = &metrics_.domain_deferred_total;
      by_vmta = &metrics_.vmta_deferred_total;
      break;
    case OutcomeKind::kConnectionFailed:
      by_domain = &metrics_.domain_queue_failures_total;
      by_vmta = &metrics_.vmta_queue_failures_total;
      break;
  }
  if (by_domain != nullptr && !domain.empty()) by_domain->Add(domain, 1);
  if (by_vmta != nullptr && !vmta.empty()) by_vmta->Add(vmta, 1);
  next_.Write(outcome);
}

void BusAccountingSink::Flush() {
  messages_in_batch_.clear();
  next_.Flush();
}

}  // namespace outpost::mgmt
