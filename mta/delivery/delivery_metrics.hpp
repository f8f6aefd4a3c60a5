// What the delivery agents contribute to the metrics bus: four lists, mapping bus metrics to the
// fields of SigningStats (signing_deliverer.hpp: DKIM), WorkPoolStats (work_pool.hpp: the signing
// pool's load), SmtpDelivererStats (smtp_deliverer.hpp:
// the plain-text fallback after failed TLS handshakes) and MimeDowngradeStats
// (mime_downgrade_deliverer.hpp: 8-bit messages converted or refused for servers without
// 8BITMIME), kept beside them so that a new figure and its metric are declared side by side. The
// lists are plain macros: this header includes nothing and mta/delivery does not link the bus
// (docs/architecture.md, "Management plane and metrics bus"); mgmt/daemon_metrics.hpp
// instantiates them and mirrors the agents' Stats() once a second (mta/bus/stats.hpp explains the
// entry shape: kind, bus name, source field, unit, help).
//
// Thread-safety: macros; no code.
#pragma once

// clang-format off
#define OUTPOST_DKIM_METRICS(X)                                                                   \
  X(Counter, dkim_signed_total, signed_messages, "messages",                                      \
    "Transactions sent with a DKIM-Signature.")                                                   \
  X(Counter, dkim_unsigned_no_key_total, unsigned_no_key, "messages",                             \
    "Transactions sent unsigned: no domain-key for the From domain.")                             \
  X(Counter, dkim_sign_failures_total, sign_failures, "messages",                                 \
    "Transactions sent unsigned: the key did not fit or signing failed.")                        \
  X(Counter, domainkeys_signed_total, domainkeys_signed, "messages",                              \
    "Transactions sent with a DomainKey-Signature (dk-sign).")                                    \
  X(Counter, domainkeys_sign_failures_total, domainkeys_failures, "messages",                     \
    "Transactions dk-sign asked to sign, sent without a DomainKey-Signature (no RSA key).")

#define OUTPOST_SIGNING_POOL_METRICS(X)                                                           \
  X(Gauge, signing_pool_threads, threads, "threads",                                              \
    "Threads of the pool that makes DKIM signatures (queue-processing-threads).")                 \
  X(Gauge, signing_pool_capacity, capacity, "messages",                                           \
    "Most messages the signing pool admits at once (queued, running or being handed back).")      \
  X(Gauge, signing_pool_queued, queued, "messages",                                               \
    "Messages in the signing pool's queue, not started.")                                         \
  X(Gauge, signing_pool_running, running, "messages",                                             \
    "Messages being signed now.")                                                                 \
  X(Gauge, signing_pool_waiting, waiting, "messages",                                             \
    "Transactions waiting for room in the full signing pool (back-pressure).")                    \
  X(Counter, signing_pool_jobs_total, done, "messages",                                           \
    "Messages the signing pool has finished with since start.")                                   \
  X(Counter, signing_pool_busy_milliseconds_total, busy_milliseconds, "milliseconds",             \
    "Time the signing pool's threads spent signing, summed over the threads.")                    \
  X(Gauge, signing_pool_busy_permille, busy_permille, "permille",                                 \
    "Busy share of the signing pool's threads over the last second, in thousandths.")

#define OUTPOST_TLS_METRICS(X)                                                                    \
  X(Counter, tls_fallbacks_total, tls_fallbacks, "connections",                                   \
    "Connections made in plain text because a TLS handshake failed at that server.")              \
  X(Gauge, tls_failures_remembered, tls_failures_remembered, "servers",                           \
    "Servers (name, address, port) skipping STARTTLS for now.")

#define OUTPOST_MIME_METRICS(X)                                                                   \
  X(Counter, mime_8bit_converted_total, converted, "messages",                                    \
    "Transactions converted to 7-bit MIME for a server without 8BITMIME.")                        \
  X(Counter, mime_8bit_refused_total, refused, "messages",                                        \
    "Transactions bounced: 8-bit headers and a server without 8BITMIME (5.6.3).")
// clang-format on
