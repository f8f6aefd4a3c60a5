// BusAccountingSink: puts delivery outcomes on the metrics bus without touching the scheduler's
// internals. It decorates the AccountingSink the QueueManager writes every d / b / t / tq record
// to: each record is counted on the bus, then forwarded unchanged (same order, same Flush()).
//
// Counting (catalog.hpp, kOutcomeMetrics and kTraffic out): by record type x domain x vmta. The
// domain is the `queue` field's domain part (so mx-rollup queues count under their queue's name,
// as /queues.json shows them), or the recipient's domain when the queue field is empty; the vmta
// is the `vmta` field, or the queue's vmta part. A d record is one delivered recipient; the first
// d record of a transaction also counts one message out and its dlvSize bytes. The scheduler
// writes one transaction's records and then flushes once, and a transaction carries one message,
// so "first d record with this (timeQueued, orig, dlvSize, queue) since the last Flush()" is one
// message.
//
// Errors: none of its own; the decorated sink's behaviour is unchanged.
// Thread-safety: as AccountingSink (the scheduler's thread only); the bus updates are atomic.
#pragma once

#include <set>
#include <string>
#include <tuple>

#include "mta/bus/catalog.hpp"
#include "mta/queue/queue_manager.hpp"

namespace outpost::mgmt {

class BusAccountingSink final : public queue::AccountingSink {
 public:
  BusAccountingSink(bus::Registry& registry, queue::AccountingSink& next);
  void Write(const acct::Record& record) override;
  void Flush() override;
  bool Durable() const override { return next_.Durable(); }

 private:
  bus::Group<bus::Outcome> outcomes_;
  bus::Group<bus::Traffic> traffic_;
  queue::AccountingSink& next_;
  std::set<std::string> messages_in_batch_;
};

}  // namespace outpost::mgmt
