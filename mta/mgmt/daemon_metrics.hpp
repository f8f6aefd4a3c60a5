// Every metric outpostd puts on the bus, as one struct of typed groups, and the daemon's
// once-a-second readings that feed the sampled ones.
//
// Where each list is declared (mta/bus/stats.hpp explains lists, shapes and generated structs):
//   smtp      OUTPOST_SMTP_SERVER_METRICS   mta/smtp/smtp_server_metrics.hpp (sampled)
//   spool     OUTPOST_SPOOL_METRICS         mta/spool/spool_metrics.hpp (sampled)
//   dns       OUTPOST_RESOLVER_METRICS      mta/dns/resolver_metrics.hpp (sampled)
//   dkim, signing_pool, tls, mime           mta/delivery/delivery_metrics.hpp (sampled)
//   queue_totals, queue_families            mta/mgmt/queue_metrics.hpp
//   acct      OUTPOST_ACCT_METRICS          below (sampled from DaemonReadings)
//   outcomes  OUTPOST_OUTCOME_METRICS       mta/mgmt/bus_accounting_sink.hpp (owned: the sink)
//   process   OUTPOST_PROCESS_METRICS       mta/bus/process_sampler.hpp (owned: the sampler)
//   mgmt      OUTPOST_MGMT_METRICS          below (owned: the management plane)
// DaemonMetrics::Register() registers them all (the sink and the sampler register their own
// lists too and share the same metrics); Publish() mirrors one DaemonReadings onto the sampled
// groups; Take() is the typed snapshot the status API renders from (status_json.hpp), so no
// reader looks a metric up by name.
//
// Thread-safety: DaemonMetrics is a set of references to thread-safe metrics; Publish() from one
// thread (the io thread's tick), Take() from any.
#pragma once

#include <cstdint>

#include "mta/bus/process_sampler.hpp"
#include "mta/bus/stats.hpp"
#include "mta/delivery/delivery_metrics.hpp"
#include "mta/delivery/mime_downgrade_deliverer.hpp"
#include "mta/delivery/signing_deliverer.hpp"
#include "mta/delivery/smtp_deliverer.hpp"
#include "mta/delivery/work_pool.hpp"
#include "mta/dns/resolver.hpp"
#include "mta/dns/resolver_metrics.hpp"
#include "mta/mgmt/bus_accounting_sink.hpp"
#include "mta/mgmt/queue_metrics.hpp"
#include "mta/queue/queue_manager.hpp"
#include "mta/returnpath/daily_counts.hpp"
#include "mta/smtp/smtp_server.hpp"
#include "mta/smtp/smtp_server_metrics.hpp"
#include "mta/spool/spool.hpp"
#include "mta/spool/spool_metrics.hpp"

namespace outpost::mgmt {

// One accounting feed (acct::FeedStats) as /status.json lists it and the exporter labels it.
struct AcctFeedReading {
  std::string feed;  // the <acct-file>'s path as configured, or |PROGRAM for a pipe
  bool pipe = false;
  std::uint64_t records_behind = 0;
  std::uint64_t bytes_behind = 0;
  std::int64_t oldest_unsent_seconds = 0;
  std::uint64_t records_sent = 0;
  std::uint64_t failures = 0;
  std::uint64_t restarts = 0;
};

// What the daemon reports each tick (gathered on the io_context's thread).
struct DaemonReadings {
  smtp::ServerStats smtp;
  spool::SpoolStats spool;
  dns::ResolverStats dns;
  queue::QueueSnapshot queues;
  bool admitting = true;  // the queue's recipient ceiling is not reached
  // The accounting files, summed over every <acct-file>.
  bool acct_writable = true;  // nothing buffered: every record so far is in its file
  std::uint64_t acct_buffered_bytes = 0;
  std::uint64_t acct_write_errors = 0;
  // The accounting feeds (acct::FeedStats), summed over the webhooks and over the pipes.
  std::uint64_t acct_webhook_records_behind = 0;
  std::uint64_t acct_webhook_bytes_behind = 0;
  std::int64_t acct_webhook_oldest_unsent_seconds = 0;  // the largest
  std::uint64_t acct_webhook_records_sent = 0;
  std::uint64_t acct_webhook_failures = 0;
  std::uint64_t acct_pipe_records_behind = 0;
  std::uint64_t acct_pipe_bytes_behind = 0;
  std::uint64_t acct_pipe_records_sent = 0;
  std::uint64_t acct_pipe_failures = 0;
  std::uint64_t acct_pipe_restarts = 0;
  std::vector<AcctFeedReading> acct_feeds;  // each feed on its own (not a bus metric)
  // The return path (returnpath::ProcessorStats, both processors summed).
  std::uint64_t returnpath_understood = 0;
  std::uint64_t returnpath_unmatched = 0;
  std::uint64_t returnpath_records = 0;
  returnpath::DayCounts returnpath_today;  // today's rb and f per provider (not a bus metric)
  // The suppression list (suppression::Stats; all zero when suppression-list is off).
  std::uint64_t suppression_entries = 0;
  std::uint64_t suppression_max_entries = 0;
  std::uint64_t suppression_memory_bytes = 0;
  std::uint64_t suppression_added_complaint = 0;
  std::uint64_t suppression_added_hard_bounce = 0;
  std::uint64_t suppression_added_manual = 0;
  std::uint64_t suppression_removed = 0;
  std::uint64_t suppression_expired = 0;
  std::uint64_t suppression_refused_full = 0;
  std::uint64_t suppression_write_errors = 0;
  std::uint64_t suppressed_recipients = 0;
  // The pickup directories (smtp::PickupStats; zero without `pickup`).
  std::uint64_t pickup_accepted = 0;
  std::uint64_t pickup_bad = 0;
  std::uint64_t pickup_deferred = 0;
  std::uint64_t pickup_errors = 0;
  delivery::SigningStats dkim;
  delivery::WorkPoolStats signing_pool;   // the pool that makes DKIM signatures
  delivery::SmtpDelivererStats delivery;  // TLS fallbacks
  delivery::MimeDowngradeStats mime;      // 8-bit conversions
};

}  // namespace outpost::mgmt

// clang-format off
// The accounting files (AccountingLog::Stats(), summed by the daemon into DaemonReadings).
#define OUTPOST_ACCT_METRICS(X)                                                                   \
  X(Gauge, acct_writable, acct_writable, "bool",                                                  \
    "1 when every accounting record so far is in its file, 0 while some wait.")                   \
  X(Gauge, acct_buffered_bytes, acct_buffered_bytes, "bytes",                                     \
    "Accounting bytes waiting in memory for their file (disk full).")                             \
  X(Counter, acct_write_errors_total, acct_write_errors, "errors",                                \
    "Failed writes to accounting files since start.")                                             \
  X(Gauge, acct_webhook_records_behind, acct_webhook_records_behind, "records",                   \
    "Accounting records written but not yet accepted by the webhook (approximate).")              \
  X(Gauge, acct_webhook_bytes_behind, acct_webhook_bytes_behind, "bytes",                         \
    "Accounting bytes written but not yet accepted by the webhook.")                              \
  X(Gauge, acct_webhook_oldest_unsent_seconds, acct_webhook_oldest_unsent_seconds, "seconds",     \
    "Seconds since the webhook was last caught up (0: caught up).")                               \
  X(Counter, acct_webhook_records_sent_total, acct_webhook_records_sent, "records",               \
    "Accounting records the webhook accepted (2xx) since start.")                                 \
  X(Counter, acct_webhook_failures_total, acct_webhook_failures, "posts",                         \
    "Webhook POSTs that failed (non-2xx, refused, timed out) since start; each is retried.")       \
  X(Gauge, acct_pipe_records_behind, acct_pipe_records_behind, "records",                         \
    "Accounting records waiting on disk for the accounting pipe's program (approximate).")        \
  X(Gauge, acct_pipe_bytes_behind, acct_pipe_bytes_behind, "bytes",                               \
    "Accounting bytes waiting on disk for the accounting pipe's program.")                        \
  X(Counter, acct_pipe_records_sent_total, acct_pipe_records_sent, "records",                     \
    "Accounting records the pipe's program read since start.")                                    \
  X(Counter, acct_pipe_failures_total, acct_pipe_failures, "errors",                              \
    "Failed writes to the accounting pipe (its program exited or was not started) since start.")  \
  X(Counter, acct_pipe_restarts_total, acct_pipe_restarts, "restarts",                            \
    "Times the accounting pipe's program was started again after it exited, since start.")        \
  X(Counter, returnpath_reports_understood_total, returnpath_understood, "reports",               \
    "Bounce and feedback-loop reports read and recorded since start.")                            \
  X(Counter, returnpath_reports_unmatched_total, returnpath_unmatched, "reports",                 \
    "Mail to a bounce or feedback-loop address not understood as a report (kept or delivered).")  \
  X(Counter, returnpath_records_total, returnpath_records, "records",                             \
    "rb and f accounting records written since start.")                                           \
  X(Gauge, suppression_entries, suppression_entries, "addresses",                                 \
    "Addresses on the suppression list.")                                                         \
  X(Gauge, suppression_max_entries, suppression_max_entries, "addresses",                         \
    "The suppression list's bound (suppression-max-entries; 0 when the list is off).")            \
  X(Gauge, suppression_memory_bytes, suppression_memory_bytes, "bytes",                           \
    "Memory the suppression list's table and addresses take.")                                    \
  X(Counter, suppression_complaints_added_total, suppression_added_complaint, "addresses",        \
    "Addresses put on the suppression list after a complaint (f record).")                        \
  X(Counter, suppression_hard_bounces_added_total, suppression_added_hard_bounce, "addresses",    \
    "Addresses put on the suppression list after a hard bounce (rb or b record).")                \
  X(Counter, suppression_manual_added_total, suppression_added_manual, "addresses",               \
    "Addresses an operator put on the suppression list.")                                         \
  X(Counter, suppression_removed_total, suppression_removed, "addresses",                         \
    "Addresses an operator removed from the suppression list.")                                   \
  X(Counter, suppression_expired_total, suppression_expired, "addresses",                         \
    "Suppression entries dropped because they expired.")                                          \
  X(Counter, suppression_refused_full_total, suppression_refused_full, "addresses",               \
    "Addresses not added because the suppression list was at suppression-max-entries.")           \
  X(Counter, suppression_write_errors_total, suppression_write_errors, "errors",                  \
    "Failed writes of the suppression list's file.")                                              \
  X(Counter, suppressed_recipients_total, suppressed_recipients, "recipients",                    \
    "Recipients not sent because on the suppression list (refused at RCPT or taken out of a "    \
    "transaction).")                                                                              \
  X(Counter, pickup_files_accepted_total, pickup_accepted, "files",                               \
    "Pickup-directory files whose message is in the spool (the file then deleted).")              \
  X(Counter, pickup_files_bad_total, pickup_bad, "files",                                         \
    "Pickup-directory files that could not be used, moved to the bad directory.")                 \
  X(Counter, pickup_files_deferred_total, pickup_deferred, "files",                               \
    "Pickup-directory files left for later because the spool refused mail (disk low, ceiling).")  \
  X(Counter, pickup_errors_total, pickup_errors, "files",                                         \
    "Pickup-directory files that could be neither read nor moved (left in place until restart).")

// The management plane itself.
#define OUTPOST_MGMT_METRICS(X)                                                                   \
  X(Counter, config_reloads_total, "", "reloads", "Configuration reloads applied (SIGHUP or API).") \
  X(Counter, config_reload_failures_total, "", "reloads",                                         \
    "Reloads refused because the configuration had errors.")                                      \
  X(Counter, mgmt_http_requests_total, "", "requests",                                            \
    "Requests served by the management HTTP API.")                                                \
  X(Counter, mgmt_http_denied_total, "", "requests",                                              \
    "Management requests refused by http-access (403).")

// The groups of DaemonMetrics: X(type, member). Order is registration order (/counters.json).
#define OUTPOST_DAEMON_METRIC_GROUPS(X)                                                           \
  X(OutcomeMetrics, outcomes)                                                                     \
  X(SmtpServerMetrics, smtp)                                                                      \
  X(QueueTotalsMetrics, queue_totals)                                                             \
  X(QueueFamilyMetrics, queue_families)                                                           \
  X(SpoolMetrics, spool)                                                                          \
  X(ResolverMetrics, dns)                                                                         \
  X(AcctMetrics, acct)                                                                            \
  X(DkimMetrics, dkim)                                                                            \
  X(SigningPoolMetrics, signing_pool)                                                             \
  X(TlsMetrics, tls)                                                                              \
  X(MimeMetrics, mime)                                                                            \
  X(MgmtMetrics, mgmt)                                                                            \
  X(bus::ProcessMetrics, process)
// clang-format on

namespace outpost::mgmt {

OUTPOST_DEFINE_SAMPLED_STATS(SmtpServerMetrics, OUTPOST_SMTP_SERVER_METRICS);
OUTPOST_DEFINE_SAMPLED_STATS(SpoolMetrics, OUTPOST_SPOOL_METRICS);
OUTPOST_DEFINE_SAMPLED_STATS(ResolverMetrics, OUTPOST_RESOLVER_METRICS);
OUTPOST_DEFINE_SAMPLED_STATS(AcctMetrics, OUTPOST_ACCT_METRICS);
OUTPOST_DEFINE_SAMPLED_STATS(DkimMetrics, OUTPOST_DKIM_METRICS);
OUTPOST_DEFINE_SAMPLED_STATS(SigningPoolMetrics, OUTPOST_SIGNING_POOL_METRICS);
OUTPOST_DEFINE_SAMPLED_STATS(TlsMetrics, OUTPOST_TLS_METRICS);
OUTPOST_DEFINE_SAMPLED_STATS(MimeMetrics, OUTPOST_MIME_METRICS);
OUTPOST_DEFINE_STATS(MgmtMetrics, OUTPOST_MGMT_METRICS);

#define OUTPOST_DAEMON_GROUP_REF(Type, member) Type member;
#define OUTPOST_DAEMON_GROUP_SNAPSHOT(Type, member) Type::Snapshot member;
struct DaemonMetrics {
  OUTPOST_DAEMON_METRIC_GROUPS(OUTPOST_DAEMON_GROUP_REF)
  struct Snapshot {
    OUTPOST_DAEMON_METRIC_GROUPS(OUTPOST_DAEMON_GROUP_SNAPSHOT)
  };

  static DaemonMetrics Register(bus::Registry& registry);
  Snapshot Take() const;
  // Mirrors `readings` onto the sampled groups and the queue families (io thread, once a tick).
  // The owned groups (outcomes, process, mgmt) are published by their producers.
  void Publish(const DaemonReadings& readings) const;
};
#undef OUTPOST_DAEMON_GROUP_REF
#undef OUTPOST_DAEMON_GROUP_SNAPSHOT

}  // namespace outpost::mgmt
