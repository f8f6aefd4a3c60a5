// GET /settings.json?queue=DOMAIN[/VMTA]: the delivery settings in effect for mail to DOMAIN
// through virtual MTA VMTA (PowerMTA's `pmta show settings DOMAIN[/VMTA]`): every <domain>
// directive's merged value (queue/policy_settings.hpp) and the <domain> sections it was merged
// from, most specific first. Without /VMTA (or with /{default}) only the global sections apply.
// The answer is computed from the configuration in force (reloads included); docs/status-api.md.
//
// Thread-safety: a pure function of its arguments.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "mta/config/config.hpp"

namespace outpost::mgmt {

// {status, body}: 200 with the settings; 400 (no queue given); 404 (no such virtual MTA).
std::pair<int, nlohmann::json> RenderSettings(const config::Config& config,
                                              const std::string& queue);

}  // namespace outpost::mgmt
