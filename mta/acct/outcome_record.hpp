// The accounting edge: a typed outcome (mta/queue/outcome.hpp) becomes a PowerMTA accounting
// record (common/acct_format.hpp) here, and only here. Which record type, dsnAction, dsnStatus and
// dsnDiag an outcome gets is decided by its kind:
//
//   kind               type  dsnAction  dsnStatus                 dsnDiag
//   kDelivered         d     relayed    from the reply            smtp;<reply>
//   kBounced           b     failed     from the reply            smtp;<reply>
//   kDeferred          t     delayed    from the reply (4.4.2 when the connection was lost)
//   kExpired           b     failed     5.4.7                     smtp;554 5.4.7 message expired...
//   kDeleted           b     failed     5.0.0                     deleted by operator
//   kDomainFailed      b     failed     5.1.2                     smtp;550 5.1.2 <error>
//   kConnectionFailed  tq    delayed    from the reply, or 4.4.1  smtp;<reply>, or smtp;<error>
//
// bounceCat is the outcome's category by name. A tq record carries only the queue's columns
// (no recipient, message or dlvEsmtpAvailable).
//
// Thread-safety: OutcomeRecord is stateless; AccountingLogSink as acct::AccountingLog
// (thread-safe).
#pragma once

#include "common/acct_format.hpp"
#include "mta/acct/accounting_writer.hpp"
#include "mta/queue/outcome.hpp"

namespace outpost::acct {

Record OutcomeRecord(const queue::Outcome& outcome);

// The production sink: every outcome as a record in the configured accounting files.
class AccountingLogSink final : public queue::OutcomeSink {
 public:
  explicit AccountingLogSink(AccountingLog* log) : log_(log) {}
  void Write(const queue::Outcome& outcome) override { log_->Write(OutcomeRecord(outcome)); }
  void Flush() override { log_->Flush(); }
  bool Durable() const override { return log_->Durable(); }

 private:
  AccountingLog* log_;
};

}  // namespace outpost::acct
