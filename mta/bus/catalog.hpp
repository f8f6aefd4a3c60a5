// What outpostd publishes on the metrics bus: one constexpr list per subsystem, each with an enum
// that indexes it (Registry::Register returns metrics in list order). The status API, the CLI and
// the web console read these names; docs/status-api.md maps them to JSON fields.
//
// Invariant: each enum's kCount equals its list's length (checked by static_assert below), so a
// publisher can never index past its list.
//
// Thread-safety: constants only.
#pragma once

#include <array>

#include "mta/bus/bus.hpp"

namespace outpost::bus {

using enum MetricType;

// SMTP in and out: traffic and connections (published from SmtpServer::Stats() deltas and from
// the accounting records the scheduler writes).
enum class Traffic {
  kInMessages,
  kInRecipients,
  kInBytes,
  kOutMessages,
  kOutRecipients,
  kOutBytes,
  kConnectionsIn,
  kConnectionsInTotal,
  kConnectionsOut,
  kCount
};
inline constexpr std::array<Descriptor, 9> kTrafficMetrics{{
    {"traffic_in_messages_total", "Messages accepted from injecting clients.", kWindowed,
     "messages", ""},
    {"traffic_in_recipients_total", "Recipients accepted from injecting clients.", kWindowed,
     "recipients", ""},
    {"traffic_in_bytes_total", "Message bytes accepted from injecting clients.", kWindowed, "bytes",
     ""},
    {"traffic_out_messages_total", "Messages delivered (one per delivering transaction).",
     kWindowed, "messages", ""},
    {"traffic_out_recipients_total", "Recipients delivered.", kWindowed, "recipients", ""},
    {"traffic_out_bytes_total", "Message bytes delivered (once per delivering transaction).",
     kWindowed, "bytes", ""},
    {"connections_in", "Inbound SMTP sessions open now.", kGauge, "connections", ""},
    {"connections_in_total", "Inbound SMTP sessions accepted since start.", kCounter, "connections",
     ""},
    {"connections_out", "Outbound SMTP connections open or opening now.", kGauge, "connections",
     ""},
}};

// Delivery outcomes, counted from the typed queue::Outcome values (BusAccountingSink).
enum class Outcome {
  kDeliveredByDomain,
  kDeferredByDomain,
  kBouncedByDomain,
  kQueueFailuresByDomain,
  kDeliveredByVmta,
  kDeferredByVmta,
  kBouncedByVmta,
  kQueueFailuresByVmta,
  kCount
};
inline constexpr std::array<Descriptor, 8> kOutcomeMetrics{{
    {"domain_delivered_total", "Recipients delivered, by recipient domain.", kWindowed,
     "recipients", "domain"},
    {"domain_deferred_total", "Recipients deferred (t records), by recipient domain.", kWindowed,
     "recipients", "domain"},
    {"domain_bounced_total", "Recipients bounced (b records), by recipient domain.", kWindowed,
     "recipients", "domain"},
    {"domain_queue_failures_total", "Whole-queue transient failures (tq records), by domain.",
     kWindowed, "failures", "domain"},
    {"vmta_delivered_total", "Recipients delivered, by virtual MTA.", kWindowed, "recipients",
     "vmta"},
    {"vmta_deferred_total", "Recipients deferred, by virtual MTA.", kWindowed, "recipients",
     "vmta"},
    {"vmta_bounced_total", "Recipients bounced, by virtual MTA.", kWindowed, "recipients", "vmta"},
    {"vmta_queue_failures_total", "Whole-queue transient failures, by virtual MTA.", kWindowed,
     "failures", "vmta"},
}};

// Queue depth and state, sampled from QueueManager::Snapshot() on the scheduler's thread.
enum class Queue {
  kRecipients,
  kMessages,
  kQueues,
  kRecipientsInBackoff,
  kQueuesInBackoff,
  kAdmissionRefusals,
  kQueueRecipients,
  kQueueMessages,
  kQueueConnections,
  kVmtaRecipients,
  kVmtaMessages,
  kVmtaConnections,
  kModeRecipients,
  kModeMessages,
  kCount
};
inline constexpr std::array<Descriptor, 14> kQueueMetrics{{
    {"queued_recipients", "Recipients queued (all queues).", kGauge, "recipients", ""},
    {"queued_messages", "Messages queued (a message counts once per queue it is in).", kGauge,
     "messages", ""},
    {"queues", "Queues known to the scheduler.", kGauge, "queues", ""},
    {"backoff_recipients", "Recipients queued in queues that are in backoff mode.", kGauge,
     "recipients", ""},
    {"backoff_queues", "Queues in backoff mode.", kGauge, "queues", ""},
    {"admission_refusals_total", "Injections refused because the queue ceiling was reached.",
     kGauge, "refusals", ""},
    {"queue_recipients", "Recipients queued, per queue (domain/vmta).", kGauge, "recipients",
     "queue"},
    {"queue_messages", "Messages queued, per queue.", kGauge, "messages", "queue"},
    {"queue_connections", "Outbound connections open or opening, per queue.", kGauge, "connections",
     "queue"},
    {"vmta_recipients", "Recipients queued, per virtual MTA.", kGauge, "recipients", "vmta"},
    {"vmta_messages", "Messages queued, per virtual MTA.", kGauge, "messages", "vmta"},
    {"vmta_connections", "Outbound connections open or opening, per virtual MTA.", kGauge,
     "connections", "vmta"},
    {"mode_recipients",
     "Recipients queued, per queue mode (normal, backoff; paused queues count as paused).", kGauge,
     "recipients", "mode"},
    {"mode_messages", "Messages queued, per queue mode.", kGauge, "messages", "mode"},
}};

// The spool and DNS, sampled from Spool::Stats() and Resolver::Stats().
enum class Storage {
  kSpoolEntries,
  kSpoolBytes,
  kSpoolHealthy,
  kSpoolDamaged,
  kSpoolLiveBytes,
  kSpoolCompactions,
  kSpoolCompactionCopied,
  kSpoolCompactionReclaimed,
  kSpoolCompactionErrors,
  kDnsCacheEntries,
  kDnsCacheHits,
  kDnsCacheMisses,
  kDnsQueries,
  kDnsFailures,
  kCount
};
inline constexpr std::array<Descriptor, 14> kStorageMetrics{{
    {"spool_entries", "Live messages in the spool.", kGauge, "messages", ""},
    {"spool_bytes", "Bytes of spool segment files on disk.", kGauge, "bytes", ""},
    {"spool_healthy", "1 when the spool accepts commits, 0 when it refuses mail.", kGauge, "bool",
     ""},
    {"spool_damaged_total", "Spool entries set aside as damaged since start.", kGauge, "entries",
     ""},
    {"spool_live_bytes",
     "Bytes of live spool entries (what a fully compacted spool would hold on disk).", kGauge,
     "bytes", ""},
    {"spool_compactions_total",
     "Spool segments emptied by compaction (live entries copied forward) and deleted since start.",
     kGauge, "segments", ""},
    {"spool_compaction_copied_bytes_total",
     "Bytes of live entries compaction copied forward since start.", kGauge, "bytes", ""},
    {"spool_compaction_reclaimed_bytes_total",
     "Bytes of segment files compaction deleted since start.", kGauge, "bytes", ""},
    {"spool_compaction_errors_total", "Failed compaction attempts since start.", kGauge, "errors",
     ""},
    {"dns_cache_entries", "Entries in the DNS cache.", kGauge, "entries", ""},
    {"dns_cache_hits_total", "DNS lookups answered from the cache.", kGauge, "lookups", ""},
    {"dns_cache_misses_total", "DNS lookups that missed the cache.", kGauge, "lookups", ""},
    {"dns_queries_total", "Queries sent to the DNS server.", kGauge, "queries", ""},
    {"dns_failures_total", "Temporary DNS failures.", kGauge, "failures", ""},
}};

// The accounting files (AccountingLog::Stats()) and DKIM signing (SigningDeliverer::Stats()).
enum class Accounting {
  kWritable,
  kBufferedBytes,
  kWriteErrors,
  kHeldCompletions,
  kDkimSigned,
  kDkimUnsignedNoKey,
  kDkimSignFailures,
  kCount
};
inline constexpr std::array<Descriptor, 7> kAccountingMetrics{{
    {"acct_writable", "1 when every accounting record so far is in its file, 0 while some wait.",
     kGauge, "bool", ""},
    {"acct_buffered_bytes", "Accounting bytes waiting in memory for their file (disk full).",
     kGauge, "bytes", ""},
    {"acct_write_errors_total", "Failed writes to accounting files since start.", kGauge, "errors",
     ""},
    {"acct_held_completions",
     "Finished recipients kept in the spool until their record is written.", kGauge, "recipients",
     ""},
    {"dkim_signed_total", "Transactions sent with a DKIM-Signature.", kGauge, "messages", ""},
    {"dkim_unsigned_no_key_total", "Transactions sent unsigned: no domain-key for the From domain.",
     kGauge, "messages", ""},
    {"dkim_sign_failures_total",
     "Transactions sent unsigned: the key did not fit or signing failed.", kGauge, "messages", ""},
}};

// Interoperability with receivers: the plain-text fallback after failed TLS handshakes
// (SmtpDeliverer::Stats()) and 8-bit messages converted to 7-bit or refused for servers without
// 8BITMIME (MimeDowngradeDeliverer::Stats()).
enum class Interop { kTlsFallbacks, kTlsFailuresRemembered, kConverted8Bit, kRefused8Bit, kCount };
inline constexpr std::array<Descriptor, 4> kInteropMetrics{{
    {"tls_fallbacks_total",
     "Connections made in plain text because a TLS handshake failed at that server.", kGauge,
     "connections", ""},
    {"tls_failures_remembered", "Servers (name, address, port) skipping STARTTLS for now.", kGauge,
     "servers", ""},
    {"mime_8bit_converted_total",
     "Transactions converted to 7-bit MIME for a server without 8BITMIME.", kGauge, "messages", ""},
    {"mime_8bit_refused_total",
     "Transactions bounced: 8-bit headers and a server without 8BITMIME (5.6.3).", kGauge,
     "messages", ""},
}};

// The process sampler (process_sampler.hpp).
enum class Process {
  kRss,
  kSwap,
  kOpenFds,
  kMaxFds,
  kSpoolDiskUsed,
  kSpoolDiskFree,
  kCpuMillis,
  kUptime,
  kCount
};
inline constexpr std::array<Descriptor, 8> kProcessMetrics{{
    {"process_resident_memory_bytes", "Resident set size (VmRSS).", kGauge, "bytes", ""},
    {"process_swap_bytes", "Swapped-out memory (VmSwap).", kGauge, "bytes", ""},
    {"process_open_fds", "Open file descriptors.", kGauge, "descriptors", ""},
    {"process_max_fds", "The soft RLIMIT_NOFILE.", kGauge, "descriptors", ""},
    {"spool_disk_used_bytes", "Used bytes of the spool's file system.", kGauge, "bytes", ""},
    {"spool_disk_free_bytes", "Bytes available to outpostd on the spool's file system.", kGauge,
     "bytes", ""},
    {"process_cpu_milliseconds_total", "User + system CPU time.", kGauge, "milliseconds", ""},
    {"process_uptime_seconds", "Seconds since outpostd started.", kGauge, "seconds", ""},
}};

// The management plane itself.
enum class Mgmt { kReloads, kReloadFailures, kHttpRequests, kHttpDenied, kCount };
inline constexpr std::array<Descriptor, 4> kMgmtMetrics{{
    {"config_reloads_total", "Configuration reloads applied (SIGHUP or API).", kCounter, "reloads",
     ""},
    {"config_reload_failures_total", "Reloads refused because the configuration had errors.",
     kCounter, "reloads", ""},
    {"mgmt_http_requests_total", "Requests served by the management HTTP API.", kCounter,
     "requests", ""},
    {"mgmt_http_denied_total", "Management requests refused by http-access (403).", kCounter,
     "requests", ""},
}};

static_assert(kTrafficMetrics.size() == static_cast<std::size_t>(Traffic::kCount));
static_assert(kOutcomeMetrics.size() == static_cast<std::size_t>(Outcome::kCount));
static_assert(kQueueMetrics.size() == static_cast<std::size_t>(Queue::kCount));
static_assert(kStorageMetrics.size() == static_cast<std::size_t>(Storage::kCount));
static_assert(kAccountingMetrics.size() == static_cast<std::size_t>(Accounting::kCount));
static_assert(kInteropMetrics.size() == static_cast<std::size_t>(Interop::kCount));
static_assert(kProcessMetrics.size() == static_cast<std::size_t>(Process::kCount));
static_assert(kMgmtMetrics.size() == static_cast<std::size_t>(Mgmt::kCount));

// A registered list, indexed by its enum.
template <typename E>
class Group {
 public:
  Group() = default;
  Group(Registry& registry, std::span<const Descriptor> list) : metrics_(registry.Register(list)) {}
  Metric& operator[](E e) const { return *metrics_[static_cast<std::size_t>(e)]; }

 private:
  std::vector<Metric*> metrics_;
};

}  // namespace outpost::bus
