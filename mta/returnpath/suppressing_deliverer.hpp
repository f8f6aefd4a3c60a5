// SuppressingDeliverer: the last check before a transaction goes out. It decorates the scheduler's
// Deliverer (mta/queue/deliverer.hpp) and takes out of each batch the recipients on the
// suppression list — mail queued before its recipient was listed — answering each of them
// `550 5.7.1 <ADDRESS> is on the suppression list (KIND); not sent` without contacting the server
// (a b record and, as for any 5xx, a DSN to the sender). The rest of the batch is sent as usual;
// a batch of suppressed recipients only is answered at once. Connect, Close and ResolveMxHosts
// pass through. Counted in the list's Stats::suppressed, like the refusals at RCPT.
// Limit: when the rest of the batch fails as a whole (MAIL refused, connection lost), that answer
// is what TransactionResult::OutcomeFor() gives the suppressed recipients too; they are refused
// at their next attempt.
//
// Thread-safety: as Deliverer (the scheduler's thread); the list is thread-safe.
#pragma once

#include "mta/queue/deliverer.hpp"
#include "mta/returnpath/suppression_list.hpp"

namespace outpost::returnpath {

class SuppressingDeliverer final : public queue::Deliverer {
 public:
  // `list` and `inner` must outlive this object.
  SuppressingDeliverer(suppression::SuppressionList& list, queue::Deliverer& inner)
      : list_(list), inner_(inner) {}

  void Connect(const queue::ConnectRequest& request,
               std::function<void(queue::ConnectOutcome)> done) override {
    inner_.Connect(request, std::move(done));
  }
  void Send(queue::ConnectionId connection, queue::BatchRequest batch,
            std::function<void(queue::BatchOutcome)> done) override;
  void Close(queue::ConnectionId connection, std::function<void()> closed) override {
    inner_.Close(connection, std::move(closed));
  }
  void ResolveMxHosts(const std::string& domain,
                      std::function<void(queue::MxHostsAnswer)> done) override {
    inner_.ResolveMxHosts(domain, std::move(done));
  }

 private:
  suppression::SuppressionList& list_;
  queue::Deliverer& inner_;
};

}  // namespace outpost::returnpath
