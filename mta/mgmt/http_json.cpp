#include "mta/mgmt/http_json.hpp"

#include <httplib.h>

#include "mta/mgmt/status_json.hpp"

namespace outpost::mgmt {

void SendJson(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(body.dump(2) + "\n", "application/json");
}

void SendError(httplib::Response& res, int status, const std::string& message) {
  SendJson(res, status, RenderError(status, message));
}

}  // namespace outpost::mgmt
