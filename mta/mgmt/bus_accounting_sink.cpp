#include "mta/mgmt/bus_accounting_sink.hpp"

#include "mta/queue/queue_name.hpp"

namespace outpost::mgmt {

using queue::OutcomeKind;

BusAccountingSink::BusAccountingSink(bus::Registry& registry, queue::OutcomeSink& next)
    : outcomes_(registry, bus::kOutcomeMetrics),
      traffic_(registry, bus::kTrafficMetrics),
      next_(next) {}

void BusAccountingSink::Write(const queue::Outcome& outcome) {
  using bus::Outcome;
  std::string domain;
  std::string vmta = outcome.vmta;
  if (auto key = queue::ParseQueueName(outcome.queue)) {
    domain = key->domain;
    if (vmta.empty()) vmta = key->vmta;
  } else {
    domain = queue::RecipientDomain(outcome.recipient);
  }
  Outcome by_domain = Outcome::kCount;
  Outcome by_vmta = Outcome::kCount;
  switch (outcome.kind) {
    case OutcomeKind::kDelivered: {
      by_domain = Outcome::kDeliveredByDomain;
      by_vmta = Outcome::kDeliveredByVmta;
      traffic_[bus::Traffic::kOutRecipients].series().Add(1);
      if (messages_in_batch_
              .emplace(outcome.spool_id.segment, outcome.spool_id.offset, outcome.queue)
              .second) {
        traffic_[bus::Traffic::kOutMessages].series().Add(1);
        if (outcome.size > 0) {
          traffic_[bus::Traffic::kOutBytes].series().Add(static_cast<std::int64_t>(outcome.size));
        }
      }
      break;
    }
    case OutcomeKind::kBounced:
    case OutcomeKind::kExpired:
    case OutcomeKind::kDeleted:
    case OutcomeKind::kDomainFailed:
      by_domain = Outcome::kBouncedByDomain;
      by_vmta = Outcome::kBouncedByVmta;
      break;
    case OutcomeKind::kDeferred:
      by_domain = Outcome::kDeferredByDomain;
      by_vmta = Outcome::kDeferredByVmta;
      break;
    case OutcomeKind::kConnectionFailed:
      by_domain = Outcome::kQueueFailuresByDomain;
      by_vmta = Outcome::kQueueFailuresByVmta;
      break;
  }
  if (!domain.empty()) outcomes_[by_domain].Add(domain, 1);
  if (!vmta.empty()) outcomes_[by_vmta].Add(vmta, 1);
  next_.Write(outcome);
}

void BusAccountingSink::Flush() {
  messages_in_batch_.clear();
  next_.Flush();
}

}  // namespace outpost::mgmt
