// BusAccountingSink: puts delivery outcomes on the metrics bus without touching the scheduler's
// internals. It decorates the OutcomeSink the QueueManager writes every typed outcome to
// (mta/queue/outcome.hpp): each outcome is counted on the bus, then forwarded unchanged (same
// order, same Flush()).
//
// Counting (OUTPOST_OUTCOME_METRICS below, declared here where it is counted): by outcome x
// domain x vmta —
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

#include "mta/bus/stats.hpp"
#include "mta/queue/outcome.hpp"

// clang-format off
#define OUTPOST_OUTCOME_METRICS(X)                                                                \
  X(Windowed, traffic_out_messages_total, "", "messages",                                         \
    "Messages delivered (one per delivering transaction).")                                       \
  X(Windowed, traffic_out_recipients_total, "", "recipients", "Recipients delivered.")            \
  X(Windowed, traffic_out_bytes_total, "", "bytes",                                               \
    "Message bytes delivered (once per delivering transaction).")                                 \
  X(Windowed, domain_delivered_total, "domain", "recipients",                                     \
    "Recipients delivered, by recipient domain.")                                                 \
  X(Windowed, domain_deferred_total, "domain", "recipients",                                      \
    "Recipients deferred (t records), by recipient domain.")                                      \
  X(Windowed, domain_bounced_total, "domain", "recipients",                                       \
    "Recipients bounced (b records), by recipient domain.")                                       \
  X(Windowed, domain_queue_failures_total, "domain", "failures",                                  \
    "Whole-queue transient failures (tq records), by domain.")                                    \
  X(Windowed, vmta_delivered_total, "vmta", "recipients", "Recipients delivered, by virtual MTA.") \
  X(Windowed, vmta_deferred_total, "vmta", "recipients", "Recipients deferred, by virtual MTA.")  \
  X(Windowed, vmta_bounced_total, "vmta", "recipients", "Recipients bounced, by virtual MTA.")    \
  X(Windowed, vmta_queue_failures_total, "vmta", "failures",                                      \
    "Whole-queue transient failures, by virtual MTA.")
// clang-format on

namespace outpost::mgmt {

OUTPOST_DEFINE_STATS(OutcomeMetrics, OUTPOST_OUTCOME_METRICS);

class BusAccountingSink final : public queue::OutcomeSink {
 public:
  BusAccountingSink(bus::Registry& registry, queue::OutcomeSink& next);
  void Write(const queue::Outcome& outcome) override;
  void Flush() override;
  bool Durable() const override { return next_.Durable(); }

 private:
  OutcomeMetrics metrics_;
  queue::OutcomeSink& next_;
  // (spool segment, spool offset, queue) of the messages counted since the last Flush().
  std::set<std::tuple<std::uint32_t, std::uint64_t, std::string>> messages_in_batch_;
};

}  // namespace outpost::mgmt
