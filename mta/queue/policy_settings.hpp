// A destination's effective delivery policy as PowerMTA's `show settings` prints it: one
// `directive value` pair per <domain> directive, in the directive's own spelling and value
// syntax (docs/config.md), after the merge of domain_policy.hpp. Read by the management API
// (GET /settings.json) and `outpostctl show settings`.
//
// Thread-safety: pure functions over immutable values.
#pragma once

#include <string>
#include <vector>

#include "mta/queue/domain_policy.hpp"

namespace outpost::queue {

struct Setting {
  std::string directive;  // "max-smtp-out"
  std::string value;      // "20", "10/m", "unlimited", "4d12h", "yes"
};

std::vector<Setting> PolicySettings(const EffectiveDomainPolicy& policy);

// "3d2h", "90s" -> "1m30s": durations as the config file writes them (also the log and records).
std::string FormatDuration(config::Seconds s);
// "unlimited", "10/s", "600/h", "5/90s".
std::string FormatRate(const config::Rate& rate);

}  // namespace outpost::queue
