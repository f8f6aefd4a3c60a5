// JSON answers of the management API: every endpoint answers through these, so that each carries
// the same content type and Cache-Control, and every error the same {"error", "status"} shape.
//
// Thread-safety: pure functions (the response is the caller's).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace httplib {
struct Response;
}

namespace outpost::mgmt {

void SendJson(httplib::Response& res, int status, const nlohmann::json& body);
// {"error": message, "status": status} (status_json.hpp's RenderError).
void SendError(httplib::Response& res, int status, const std::string& message);

}  // namespace outpost::mgmt
