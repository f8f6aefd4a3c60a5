// LoadRunner: drives `sessions` concurrent SMTP client sessions against one server until the
// message budget is spent or the duration ends, and fills a LoadReport.
//
// Each session connects, reads the greeting, sends EHLO, then sends messages: with PIPELINING
// (offered and not disabled) MAIL, every RCPT and DATA go in one write (RFC 2920), otherwise one
// command per round trip (DATA skipped, RSET sent, when no recipient was accepted). A 421 reply
// or a lost connection ends the connection; the session reconnects. A session gives up after 5
// consecutive failed connection attempts (refused, or a non-2xx greeting), backing off 50 ms
// doubling to 1 s between them. Messages are built in memory: headers (unique Message-ID
// <RUN.SEQ@outpost-load.invalid>) and 76-column filler lines up to `size` bytes.
// A progress line goes to stderr once a second when stderr is a terminal.
//
// Error policy: network errors are counted in the report, never thrown. Tunables: LoadOptions.
// Thread-safety: not thread-safe; Run() runs its own io_context on the calling thread.
#pragma once

#include "tools/load/load_options.hpp"
#include "tools/load/load_report.hpp"

namespace outpost::load {

// Runs the load described by `options`; blocks until done.
LoadReport RunLoad(const LoadOptions& options);

// The message text (CRLF lines, not dot-stuffed; filler lines never start with '.') of about
// `size` bytes (never less than its headers).
std::string BuildMessage(const std::string& from, const std::string& to,
                         const std::string& message_id, std::uint64_t size);

}  // namespace outpost::load
