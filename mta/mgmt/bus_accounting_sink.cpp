#include "mta/mgmt/bus_accounting_sink.hpp"

#include <cstdlib>

#include "mta/queue/queue_name.hpp"

namespace outpost::mgmt {

using acct::Field;
using acct::RecordType;

BusAccountingSink::BusAccountingSink(bus::Registry& registry, queue::AccountingSink& next)
    : outcomes_(registry, bus::kOutcomeMetrics),
      traffic_(registry, bus::kTrafficMetrics),
      next_(next) {}

void BusAccountingSink::Write(const acct::Record& record) {
  using bus::Outcome;
  std::string domain;
  std::string vmta = record[Field::kVmta];
  if (auto key = queue::ParseQueueName(record[Field::kQueue])) {
    domain = key->domain;
    if (vmta.empty()) vmta = key->vmta;
  } else {
    domain = queue::RecipientDomain(record[Field::kRcpt]);
  }
  Outcome by_domain = Outcome::kCount;
  Outcome by_vmta = Outcome::kCount;
  switch (record.type) {
    case RecordType::kDelivered: {
      by_domain = Outcome::kDeliveredByDomain;
      by_vmta = Outcome::kDeliveredByVmta;
      traffic_[bus::Traffic::kOutRecipients].series().Add(1);
      std::string key = record[Field::kTimeQueued] + '\x1f' + record[Field::kOrig] + '\x1f' +
                        record[Field::kDlvSize] + '\x1f' + record[Field::kQueue];
      if (messages_in_batch_.insert(std::move(key)).second) {
        traffic_[bus::Traffic::kOutMessages].series().Add(1);
        const long long size = std::strtoll(record[Field::kDlvSize].c_str(), nullptr, 10);
        if (size > 0) traffic_[bus::Traffic::kOutBytes].series().Add(size);
      }
      break;
    }
    case RecordType::kBounced:
      by_domain = Outcome::kBouncedByDomain;
      by_vmta = Outcome::kBouncedByVmta;
      break;
    case RecordType::kTransient:
      by_domain = Outcome::kDeferredByDomain;
      by_vmta = Outcome::kDeferredByVmta;
      break;
    case RecordType::kTransientQueue:
      by_domain = Outcome::kQueueFailuresByDomain;
      by_vmta = Outcome::kQueueFailuresByVmta;
      break;
    case RecordType::kReceived:
    case RecordType::kFeedback:
      break;
  }
  if (by_domain != Outcome::kCount) {
    if (!domain.empty()) outcomes_[by_domain].Add(domain, 1);
    if (!vmta.empty()) outcomes_[by_vmta].Add(vmta, 1);
  }
  next_.Write(record);
}

void BusAccountingSink::Flush() {
  messages_in_batch_.clear();
  next_.Flush();
}

}  // namespace outpost::mgmt
