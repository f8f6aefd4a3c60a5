// POST /api/alerts: the endpoint Alertmanager's `webhook_configs` calls (alert_actions.hpp does
// the rest). Access: http-access admin (checked before any handler, as every POST) and then
// `Authorization: Bearer TOKEN` equal to the content of `alert-action-token-file` (read at each
// request; surrounding white space ignored). Answers: 200 with what each matching rule did, 400
// for a body that is not Alertmanager's payload (version 4), 401 missing or wrong token, 404
// alert-action-token-file not set (the endpoint is off), 500 the token file cannot be read, 503
// the scheduler did not answer in time. docs/status-api.md has the schemas.
//
// Thread-safety: the handler runs on cpp-httplib's threads; the actions run on the io thread
// (AlertApi::on_io).
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

#include "mta/mgmt/alert_actions.hpp"

namespace httplib {
class Server;
}

namespace outpost::mgmt {

using IoAnswer = std::optional<std::pair<int, nlohmann::json>>;

struct AlertApi {
  std::function<std::string()> token_file;  // the running configuration's, "" when off
  // Runs the task on the io thread and waits (nullopt: it did not answer in time).
  std::function<IoAnswer(std::function<std::pair<int, nlohmann::json>()>)> on_io;
  AlertActions* actions = nullptr;
  ActionRunner run;  // called on the io thread
  AlertActionMetrics metrics;
};

// True when `header` is "Bearer TOKEN" with TOKEN equal to `token` (compared in constant time).
bool BearerMatches(const std::string& header, const std::string& token);

void RegisterAlertApi(httplib::Server& server, AlertApi api);

}  // namespace outpost::mgmt
