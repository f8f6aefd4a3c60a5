#include "mta/returnpath/suppression_sink.hpp"

#include "mta/log/log.hpp"

namespace outpost::returnpath {

bool HardBounce(delivery::BounceCategory category) {
  using delivery::BounceCategory;
  return category == BounceCategory::kBadMailbox || category == BounceCategory::kInactiveMailbox ||
         category == BounceCategory::kBadDomain;
}

void SuppressionSink::Write(const queue::Outcome& outcome) {
  const bool bounced = outcome.kind == queue::OutcomeKind::kBounced ||
                       outcome.kind == queue::OutcomeKind::kDomainFailed;
  if (bounced && HardBounce(outcome.category)) {
    if (list_.Add(outcome.recipient, suppression::Kind::kHardBounce) ==
        suppression::AddResult::kFull) {
      OUTPOST_LOG(kWarning, "suppression")
          << "suppression list full (suppression-max-entries): <" << outcome.recipient
          << "> not added after a hard bounce";
    }
  }
  next_.Write(outcome);
}

void SuppressionSink::Flush() {
  next_.Flush();
  if (!list_.Sync()) {
    OUTPOST_LOG(kError, "suppression") << "cannot write the suppression list; retried";
  }
}

}  // namespace outpost::returnpath
