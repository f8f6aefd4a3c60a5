// What the scheduler's queues contribute to the metrics bus, published by the management plane's
// tick from QueueManager::Snapshot() (taken on the scheduler's thread):
//  * OUTPOST_QUEUE_TOTALS_METRICS, a sampled list mapping bus metrics to queue::QueueTotals
//    fields (XXX: it belongs beside QueueTotals in mta/queue, as the spool's list sits beside
//    SpoolStats; it moves there once the queue split lands);
//  * OUTPOST_QUEUE_FAMILY_METRICS, the per-queue, per-vmta and per-mode families, which
//    PublishQueues() sums from the snapshot's queues.
// mta/bus/stats.hpp explains the entry shapes.
//
// Expiry: a labelled gauge is set only when its value changes, so a series that stays put ages
// and expires with Registry::ExpireIdle() (bus.hpp), bounding per-queue cardinality.
// Thread-safety: PublishQueues() from one thread (the io thread's tick); the metrics are
// thread-safe to read.
#pragma once

#include "mta/bus/stats.hpp"
#include "mta/queue/queue_manager.hpp"

// clang-format off
#define OUTPOST_QUEUE_TOTALS_METRICS(X)                                                           \
  X(Gauge, connections_out, connections, "connections",                                           \
    "Outbound SMTP connections open or opening now.")                                             \
  X(Gauge, queued_recipients, recipients, "recipients", "Recipients queued (all queues).")        \
  X(Gauge, queued_messages, messages, "messages",                                                 \
    "Messages queued (a message counts once per queue it is in).")                                \
  X(Gauge, queues, queues, "queues", "Queues known to the scheduler.")                            \
  X(Gauge, backoff_recipients, recipients_in_backoff, "recipients",                               \
    "Recipients queued in queues that are in backoff mode.")                                      \
  X(Gauge, backoff_queues, queues_in_backoff, "queues", "Queues in backoff mode.")                \
  X(Counter, admission_refusals_total, admission_refusals, "refusals",                            \
    "Injections refused because the queue ceiling was reached.")                                  \
  X(Gauge, acct_held_completions, held_completions, "recipients",                                 \
    "Finished recipients kept in the spool until their record is written.")                      \
  X(Gauge, queue_oldest_age_seconds, oldest_age_seconds, "seconds",                               \
    "Time in queue of the oldest recipient waiting in any queue (0: none).")                      \
  X(Counter, queue_stalls_total, stalls, "stalls",                                                \
    "Queues found with mail due and no delivery attempt for queue-stall-warning-after.")          \
  X(Gauge, queues_stalled, stalled_queues, "queues", "Queues stalled now (the stall watchdog).")

#define OUTPOST_QUEUE_FAMILY_METRICS(X)                                                           \
  X(Gauge, queue_recipients, "queue", "recipients", "Recipients queued, per queue (domain/vmta).") \
  X(Gauge, queue_messages, "queue", "messages", "Messages queued, per queue.")                    \
  X(Gauge, queue_connections, "queue", "connections",                                             \
    "Outbound connections open or opening, per queue.")                                           \
  X(Gauge, vmta_recipients, "vmta", "recipients", "Recipients queued, per virtual MTA.")          \
  X(Gauge, vmta_messages, "vmta", "messages", "Messages queued, per virtual MTA.")                \
  X(Gauge, vmta_connections, "vmta", "connections",                                               \
    "Outbound connections open or opening, per virtual MTA.")                                     \
  X(Gauge, vmta_oldest_age_seconds, "vmta", "seconds",                                            \
    "Time in queue of the oldest recipient waiting, per virtual MTA (0: none).")                  \
  X(Gauge, mode_recipients, "mode", "recipients",                                                 \
    "Recipients queued, per queue mode (normal, backoff; paused queues count as paused).")        \
  X(Gauge, mode_messages, "mode", "messages", "Messages queued, per queue mode.")               \
  X(Gauge, job_recipients, "job", "recipients",                                                   \
    "Recipients queued, per job (X-Job): the 10 jobs with most queued, the rest as job=other.")
// clang-format on

namespace outpost::mgmt {

OUTPOST_DEFINE_SAMPLED_STATS(QueueTotalsMetrics, OUTPOST_QUEUE_TOTALS_METRICS);
OUTPOST_DEFINE_STATS(QueueFamilyMetrics, OUTPOST_QUEUE_FAMILY_METRICS);

// Sets the families from `snapshot`: per queue, per vmta (the name's part after the last '/'),
// per mode (normal, backoff, paused; a paused queue counts as paused whatever its mode; the three
// mode series always exist), per job (the kTopJobs jobs with most recipients queued, the others
// summed under "other"; a job that leaves the top is set to 0, then expires).
inline constexpr std::size_t kTopJobs = 10;
void PublishQueues(const QueueFamilyMetrics& metrics, const queue::QueueSnapshot& snapshot);

}  // namespace outpost::mgmt
