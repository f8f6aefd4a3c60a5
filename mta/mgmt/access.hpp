// Who may use the management port: `http-access CIDR LEVEL` (config::Config::HttpAccessFor).
// Reads (GET) need monitor; control (POST) needs admin; HTTP submission needs submit or admin
// (submit grants nothing else); everyone else gets 403. Without any
// http-access line only 127.0.0.1 and ::1 may read, and nobody may control.
//
// Thread-safety: pure functions.
#pragma once

#include <string_view>

#include "mta/config/config.hpp"

namespace outpost::mgmt {

enum class Need { kMonitor, kAdmin, kSubmit };

// The level `peer` (the socket's remote address as text, e.g. "127.0.0.1", "::1" or
// "::ffff:10.1.2.3") has under `config`. An unparsable address gets none.
config::AccessLevel AccessFor(const config::Config& config, std::string_view peer);
bool Permits(config::AccessLevel level, Need need);
const char* AccessLevelName(config::AccessLevel level);

}  // namespace outpost::mgmt
