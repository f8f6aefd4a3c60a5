// BusAccountingSink: puts delivery outcomes on the metrics bus without touching the scheduler's
// internals. It decorates the OutcomeSink the QueueManager writes every typed outcome to
// (mta/queue/outcome.hpp): each outcome is counted on the bus, then forwarded unchanged (same
// order, same Flush()).
//
// Counting (catalog.hpp, kOutcomeMetrics and kTraffic out): by outcome x domain x vmta —
// delivered; bounced (a 5xx, expired, deleted, or a domain that cannot receive mail: every b
// record); deferred; queue failures (kConnectionFailed, the tq records). The domain is the
// queue's domain part (so mx-rollup queues count under their queue's name, as /queues.json shows
// them), or the recipient's domain when the queue is empty; the vmta is the outcome's vmta, or
// the queue's vmta part. A delivered outcome is one recipient out; the first of a transaction
// also counts one message out and its size in bytes. The scheduler writes one transaction's
// outcomes and then flushes once, and a transaction carries one message, so "first delivered
// outcome of this (spool entry, queue) since the last Flush()" is one message.
//
// Errors: none of its own; the decorated sink's behaviour is unchanged.
// Thread-safety: as AccountingSink (the scheduler's thread only); the bus updates are atomic.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <tuple>

#include "mta/bus/catalog.hpp"
#include "mta/queue/outcome.hpp"

namespace outpost::mgmt {

class BusAccountingSink final : public queue::OutcomeSink {
 public:
  BusAccountingSink(bus::Registry& registry, queue::OutcomeSink& next);
  void Write(const queue::Outcome& outcome) override;
  void Flush() override;
  bool Durable() const override { return next_.Durable(); }

 private:
  bus::Group<bus::Outcome> outcomes_;
  bus::Group<bus::Traffic> traffic_;
  queue::OutcomeSink& next_;
  // (spool segment, spool offset, queue) of the messages counted since the last Flush().
  std::set<std::tuple<std::uint32_t, std::uint64_t, std::string>> messages_in_batch_;
};

}  // namespace outpost::mgmt
