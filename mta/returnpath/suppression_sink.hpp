// What puts addresses on the suppression list from delivery outcomes: SuppressionSink decorates
// the scheduler's OutcomeSink (mta/queue/outcome.hpp) and adds the recipient of every b record
// that is a hard bounce (HardBounce()) before forwarding the outcome unchanged; its Flush() syncs
// the list after the next sink's Flush() (one sync per transaction's outcomes). The return path's
// processor adds rb and f records' recipients itself (processor.hpp).
//
// Errors: a list that cannot be written is counted there (Stats::write_errors) and retried at the
// next Flush(); the outcome still goes on.
// Thread-safety: as OutcomeSink (the scheduler's thread); the list is thread-safe.
#pragma once

#include "mta/delivery/bounce_category.hpp"
#include "mta/queue/outcome.hpp"
#include "mta/returnpath/suppression_list.hpp"

namespace outpost::returnpath {

// bad-mailbox, inactive-mailbox and bad-domain: the recipient will not take mail.
bool HardBounce(delivery::BounceCategory category);

class SuppressionSink final : public queue::OutcomeSink {
 public:
  SuppressionSink(suppression::SuppressionList& list, queue::OutcomeSink& next)
      : list_(list), next_(next) {}
  void Write(const queue::Outcome& outcome) override;
  void Flush() override;
  bool Durable() const override { return next_.Durable(); }

 private:
  suppression::SuppressionList& list_;
  queue::OutcomeSink& next_;
};

}  // namespace outpost::returnpath
