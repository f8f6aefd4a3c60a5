// outpostd's process: wires configuration, log, spool, accounting and the SMTP listeners together
// and owns the process-level concerns (signals, periodic housekeeping, the port file).
//
// Start-up order: load config -> open log -> open spool (exclusive lock) -> recovery (every
// intact entry back in memory, damaged ones set aside and reported) -> open accounting files ->
// bind listeners and the management port -> give up root unless run-as-root yes (privileges.hpp)
// -> write the port file -> serve. A failure at any step is a clean fatal exit
// with a message naming what failed.
//
// Signals: SIGTERM/SIGINT stop gracefully (stop accepting, flush accounting, stop the spool);
// SIGHUP reloads the configuration (a config with errors is refused and the running one stays);
// SIGUSR1 reopens the log file (logrotate).
//
// Thread-safety: Daemon runs on the calling thread plus the spool's committer thread; not to be
// shared.
#pragma once

#include <string>

namespace outpost::daemon {

struct Options {
  std::string config_path;
  std::string port_file;  // written once listeners are bound: "smtp HOST:PORT" per line
};

// Runs until a stop signal. Returns the process exit code.
int Run(const Options& options);

// Validates the configuration; prints every error to stderr. Returns 0 when valid.
int CheckConfig(const std::string& config_path);

// Prints every live spooled message as one JSON object per line (queue id, Message-ID, sender,
// recipients still pending, size) and a summary line; the daemon must not be running.
int ListSpool(const std::string& config_path);

}  // namespace outpost::daemon
