#include "mta/mgmt/alert_actions_api.hpp"

#include <httplib.h>

#include <fstream>
#include <sstream>
#include <string_view>

#include "common/constant_time.hpp"
#include "mta/mgmt/status_json.hpp"

namespace outpost::mgmt {
namespace {

using nlohmann::json;

void Send(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(body.dump(2) + "\n", "application/json");
}

std::string TrimSpace(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

std::optional<std::string> ReadToken(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  std::string token = TrimSpace(text.str());
  if (token.empty()) return std::nullopt;
  return token;
}

// Checks the bearer token; answers and returns false when the request may not go on.
bool Authorized(const AlertApi& api, const httplib::Request& req, httplib::Response& res) {
  const std::string path = api.token_file();
  if (path.empty()) {
    Send(res, 404, RenderError(404, "alert-driven actions are off (no alert-action-token-file)"));
    return false;
  }
  const std::optional<std::string> token = ReadToken(path);
  if (!token) {
    Send(res, 500, RenderError(500, "the alert-action-token-file cannot be read or is empty"));
    return false;
  }
  if (!BearerMatches(req.get_header_value("Authorization"), *token)) {
    api.metrics.alert_notifications_unauthorized_total.series().Add(1);
    res.set_header("WWW-Authenticate", "Bearer");
    Send(res, 401, RenderError(401, "missing or wrong bearer token (alert-action-token-file)"));
    return false;
  }
  return true;
}

void Handle(const AlertApi& api, const httplib::Request& req, httplib::Response& res) {
  if (!Authorized(api, req, res)) return;
  const json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  std::string error;
  std::optional<std::vector<Alert>> alerts = ParseNotification(body, &error);
  if (!alerts) {
    Send(res, 400, RenderError(400, error));
    return;
  }
  IoAnswer answer = api.on_io([&api, alerts = std::move(*alerts)]() -> std::pair<int, json> {
    return {200, {{"ok", true}, {"actions", api.actions->Receive(alerts, api.run)}}};
  });
  if (!answer) {
    Send(res, 503, RenderError(503, "outpostd's scheduler did not answer in time; try again"));
    return;
  }
  Send(res, answer->first, answer->second);
}

}  // namespace

bool BearerMatches(const std::string& header, const std::string& token) {
  constexpr std::string_view kScheme = "Bearer ";
  if (header.size() != kScheme.size() + token.size() || header.rfind(kScheme, 0) != 0) {
    return false;
  }
  return ConstantTimeEquals(std::string_view(header).substr(kScheme.size()), token);
}

void RegisterAlertApi(httplib::Server& server, AlertApi api) {
  server.Post("/api/alerts",
              [api = std::move(api)](const httplib::Request& req, httplib::Response& res) {
                Handle(api, req, res);
              });
}

}  // namespace outpost::mgmt
