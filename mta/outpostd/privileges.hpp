// run-as-root: after outpostd has bound its ports and opened its spool, log and accounting files,
// a daemon started as root gives up root for an unprivileged user, unless `run-as-root yes`.
//
// The user is `outpost` (the user deploy/ creates) or, on a host without one, `nobody`. Before the
// switch, what outpostd writes is given to that user: the spool directory and everything in it
// (Outpost's own), the log file, each accounting file and its move-to directory. After the switch
// outpostd checks, as that user, that it can still write where it must (the spool directory, and
// the directory of each accounting file that rotates); if not, start-up fails naming the path.
// Files only read again at a reload (the configuration, DKIM keys, TLS certificate and key) are
// checked too; one that is not readable is logged as a warning (the reload would be refused).
//
// A daemon not started as root has nothing to drop; `run-as-root yes` then changes nothing.
//
// Thread-safety: call once, on the main thread, before serving. glibc applies the uid/gid change
// to every thread of the process.
#pragma once

#include <string>
#include <vector>

#include "mta/config/config.hpp"

namespace outpost::daemon {

// The user a root daemon switches to ("outpost", else "nobody").
inline constexpr const char* kUnprivilegedUser = "outpost";
inline constexpr const char* kFallbackUser = "nobody";

struct PrivilegeResult {
  bool ok = true;
  std::string error;                  // set when !ok: what failed, with the path and the fix
  std::string summary;                // one line for the log: who outpostd runs as now
  std::vector<std::string> warnings;  // files a reload would need but cannot read
};

// Applies `run-as-root` as described above. `config_path` is the file reloads read.
PrivilegeResult ApplyRunAsRoot(const config::Config& config, const std::string& config_path);

}  // namespace outpost::daemon
