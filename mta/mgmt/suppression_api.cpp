#include "mta/mgmt/suppression_api.hpp"

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "mta/log/log.hpp"
#include "mta/mgmt/http_json.hpp"
#include "mta/mgmt/status_json.hpp"

namespace outpost::mgmt {
namespace {

using nlohmann::json;
using suppression::AddResult;
using suppression::SuppressionList;

constexpr const char* kPath = "/api/suppressions";
constexpr std::size_t kDefaultLimit = 100;
constexpr std::size_t kMaxLimit = 1000;

json EntryJson(const suppression::Entry& e) {
  return {{"address", e.address},
          {"kind", suppression::KindName(e.kind)},
          {"added", IsoTime(e.added)},
          {"expires", e.expires == 0 ? json(nullptr) : json(IsoTime(e.expires))}};
}

std::optional<std::size_t> Number(const httplib::Request& req, const char* name,
                                  std::size_t fallback) {
  if (!req.has_param(name)) return fallback;
  const std::string text = req.get_param_value(name);
  char* end = nullptr;
  const unsigned long long n = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0') return std::nullopt;
  return static_cast<std::size_t>(n);
}

// The address parameter, normalized; answers 400 and returns nullopt when it is missing or bad.
std::optional<std::string> AddressParam(const httplib::Request& req, httplib::Response& res) {
  const std::string raw = req.get_param_value("address");
  std::optional<std::string> address = suppression::Normalize(raw);
  if (!address) {
    SendError(res, 400,
              raw.empty() ? "missing parameter: address"
                          : "not an address the suppression list can hold: '" + raw + "'");
  }
  return address;
}

void Get(SuppressionList& list, const httplib::Request& req, httplib::Response& res) {
  if (req.has_param("address")) {
    const std::optional<std::string> address = AddressParam(req, res);
    if (!address) return;
    const std::optional<suppression::Entry> entry = list.Find(*address);
    if (!entry) {
      SendError(res, 404, *address + " is not on the suppression list");
      return;
    }
    SendJson(res, 200, {{"schema", "outpost.suppression.v1"}, {"entry", EntryJson(*entry)}});
    return;
  }
  const std::optional<std::size_t> offset = Number(req, "offset", 0);
  const std::optional<std::size_t> limit = Number(req, "limit", kDefaultLimit);
  if (!offset || !limit || *limit == 0 || *limit > kMaxLimit) {
    SendError(res, 400, "offset must be a number and limit a number from 1 to 1000");
    return;
  }
  json entries = json::array();
  for (const suppression::Entry& e : list.List(*offset, *limit)) entries.push_back(EntryJson(e));
  const suppression::Stats stats = list.GetStats();
  SendJson(res, 200,
           {{"schema", "outpost.suppressions.v1"},
            {"total", stats.entries},
            {"max_entries", stats.max_entries},
            {"offset", *offset},
            {"limit", *limit},
            {"entries", entries}});
}

void Change(SuppressionList& list, const httplib::Request& req, httplib::Response& res, bool add) {
  const std::optional<std::string> address = AddressParam(req, res);
  if (!address) return;
  const std::string kind_text = req.has_param("kind") ? req.get_param_value("kind") : "manual";
  const std::optional<suppression::Kind> kind = suppression::ParseKind(kind_text);
  if (!kind) {
    SendError(res, 400, "kind must be manual, complaint or hard-bounce");
    return;
  }
  std::string action = add ? "added" : "removed";
  if (add) {
    const AddResult r = list.Add(*address, *kind);
    if (r == AddResult::kFull) {
      SendError(
          res, 507,
          "the suppression list is full (suppression-max-entries); " + *address + " was not added");
      return;
    }
    if (r == AddResult::kRefreshed) action = "refreshed";
  } else if (!list.Remove(*address)) {
    SendError(res, 404, *address + " is not on the suppression list");
    return;
  }
  if (!list.Sync()) {
    SendError(res, 500, "the suppression list's file cannot be written; the change is not durable");
    return;
  }
  OUTPOST_LOG(kInfo, "mgmt") << "suppression list: " << *address << " " << action << " by operator";
  json body = {{"ok", true}, {"action", action}, {"address", *address}};
  if (const auto entry = list.Find(*address)) body["entry"] = EntryJson(*entry);
  SendJson(res, 200, body);
}

}  // namespace

bool IsSuppressionPath(const std::string& path) { return path.rfind(kPath, 0) == 0; }

void RegisterSuppressionApi(httplib::Server& server, SuppressionList* list) {
  auto off = [](const httplib::Request&, httplib::Response& res) {
    SendError(res, 404, "the suppression list is off (suppression-list no)");
  };
  if (list == nullptr) {
    server.Get(kPath, off);
    server.Post(std::string(kPath) + "/add", off);
    server.Post(std::string(kPath) + "/remove", off);
    return;
  }
  server.Get(kPath,
             [list](const httplib::Request& req, httplib::Response& res) { Get(*list, req, res); });
  server.Post(std::string(kPath) + "/add",
              [list](const httplib::Request& req, httplib::Response& res) {
                Change(*list, req, res, /*add=*/true);
              });
  server.Post(std::string(kPath) + "/remove",
              [list](const httplib::Request& req, httplib::Response& res) {
                Change(*list, req, res, /*add=*/false);
              });
}

}  // namespace outpost::mgmt
