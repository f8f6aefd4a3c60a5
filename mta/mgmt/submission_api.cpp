#include "mta/mgmt/submission_api.hpp"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <future>
#include <nlohmann/json.hpp>

#include "common/constant_time.hpp"
#include "mta/log/log.hpp"
#include "mta/mgmt/http_json.hpp"
#include "mta/mgmt/status_json.hpp"
#include "mta/smtp/command_parser.hpp"

namespace outpost::mgmt {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxLine = 998;  // RFC 5322 2.1.1, as SMTP's DATA enforces
constexpr int kRetryAfterSeconds = 30;

ParsedTransmission Bad(std::string error, int status = 400) {
  ParsedTransmission p;
  p.status = status;
  p.error = std::move(error);
  return p;
}

// A string member of `object`, or "" when absent; false when present but not a string.
bool OptionalString(const json& object, const char* name, std::string& out) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return true;
  if (!it->is_string()) return false;
  out = it->get<std::string>();
  return true;
}

bool GoodMailbox(const std::string& address) {
  return address.size() <= 254 && smtp::CheckMailbox(address).ok;
}

// One recipients[] entry: "a@b", {"address": "a@b"} or {"address": {"email": "a@b"}}.
std::string RecipientAddress(const json& entry, std::string& error) {
  const json* address = &entry;
  if (entry.is_object()) {
    if (entry.contains("substitution_data")) {
      error = "substitution_data is not supported: send the message pre-built";
      return "";
    }
    auto it = entry.find("address");
    if (it == entry.end()) {
      error = "a recipient has no address";
      return "";
    }
    address = &*it;
    if (address->is_object()) {
      auto email = address->find("email");
      address = email == address->end() ? nullptr : &*email;
    }
  }
  if (address == nullptr || !address->is_string()) {
    error = "a recipient's address must be a string (or {\"email\": ...})";
    return "";
  }
  const std::string text = address->get<std::string>();
  if (!GoodMailbox(text)) error = "bad recipient address: " + text.substr(0, 254);
  return text;
}

// The message with CRLF line ends (bare LF and CR become CRLF, as JSON writers send "\n"), ending
// in CRLF. "" + error when a line is too long.
std::string NormalizeContent(std::string_view in, std::string& error) {
  std::string out;
  out.reserve(in.size() + in.size() / 32 + 2);
  std::size_t line = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char ch = in[i];
    if (ch == '\r' || ch == '\n') {
      out += "\r\n";
      line = 0;
      if (ch == '\r' && i + 1 < in.size() && in[i + 1] == '\n') ++i;
      continue;
    }
    if (++line > kMaxLine) {
      error = "content has a line longer than 998 octets";
      return "";
    }
    out.push_back(ch);
  }
  if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0) out += "\r\n";
  return out;
}

bool ParseOptions(const json& body, smtp::Submission& s, std::string& error) {
  auto it = body.find("options");
  if (it == body.end()) return true;
  if (!it->is_object()) {
    error = "options must be an object";
    return false;
  }
  for (const auto& [name, value] : it->items()) {
    if (name != "virtual_mta" && name != "envid") {
      error = "unknown option: " + name + " (supported: virtual_mta, envid)";
      return false;
    }
  }
  if (!OptionalString(*it, "virtual_mta", s.vmta) || !OptionalString(*it, "envid", s.env_id)) {
    error = "options.virtual_mta and options.envid must be strings";
    return false;
  }
  if (s.env_id.size() > smtp::kMaxEnvId) {
    error = "options.envid is longer than " + std::to_string(smtp::kMaxEnvId) + " characters";
    return false;
  }
  return true;
}

bool ParseEnvelopeFrom(const json& body, smtp::Submission& s, std::string& error) {
  if (body.contains("return_path") && body.contains("mail_from")) {
    error = "give return_path or mail_from, not both";
    return false;
  }
  const char* name = body.contains("mail_from") ? "mail_from" : "return_path";
  if (!body.contains(name)) {
    error = "missing field: return_path (the envelope sender; \"\" for the null sender)";
    return false;
  }
  if (!OptionalString(body, name, s.mail_from)) {
    error = std::string(name) + " must be a string";
    return false;
  }
  if (!s.mail_from.empty() && !GoodMailbox(s.mail_from)) {
    error = std::string("bad ") + name + ": " + s.mail_from.substr(0, 254);
    return false;
  }
  if (!OptionalString(body, "campaign_id", s.job_id) || s.job_id.size() > 256) {
    error = "campaign_id must be a string of at most 256 characters";
    return false;
  }
  return true;
}

bool ParseRecipients(const json& body, smtp::Submission& s, std::string& error) {
  auto it = body.find("recipients");
  if (it == body.end() || !it->is_array() || it->empty()) {
    error = "missing field: recipients (a non-empty array)";
    return false;
  }
  for (const json& entry : *it) {
    std::string address = RecipientAddress(entry, error);
    if (!error.empty()) return false;
    s.recipients.push_back(std::move(address));
  }
  return true;
}

const json* RawContent(const json& body, std::string& error) {
  auto it = body.find("content");
  if (it == body.end() || !it->is_object()) {
    error = "missing field: content (an object with email_rfc822)";
    return nullptr;
  }
  auto raw = it->find("email_rfc822");
  if (raw == it->end() || !raw->is_string() || raw->get_ref<const std::string&>().empty()) {
    error =
        "missing field: content.email_rfc822 (the whole message, headers and body); "
        "templates and substitution are not supported";
    return nullptr;
  }
  return &*raw;
}

}  // namespace

bool IsSubmissionPath(const std::string& path) { return path == kTransmissionsPath; }

ParsedTransmission ParseTransmission(std::string_view body, std::uint64_t max_content) {
  const json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Bad("the body is not valid JSON");
  if (!doc.is_object()) return Bad("the body must be a JSON object");
  static const char* const kKnown[] = {"recipients", "content",     "return_path",
                                       "mail_from",  "campaign_id", "options"};
  for (const auto& [name, value] : doc.items()) {
    if (name == "substitution_data") {
      return Bad("substitution_data is not supported: send the message pre-built");
    }
    if (std::find_if(std::begin(kKnown), std::end(kKnown),
                     [&name](const char* k) { return name == k; }) == std::end(kKnown)) {
      return Bad("unknown field: " + name);
    }
  }
  ParsedTransmission p;
  std::string error;
  const json* raw = RawContent(doc, error);
  if (raw == nullptr || !ParseEnvelopeFrom(doc, p.submission, error) ||
      !ParseRecipients(doc, p.submission, error) || !ParseOptions(doc, p.submission, error)) {
    return Bad(error);
  }
  p.submission.content = NormalizeContent(raw->get_ref<const std::string&>(), error);
  if (!error.empty()) return Bad(error);
  if (p.submission.content.size() > max_content) {
    return Bad("content is " + std::to_string(p.submission.content.size()) +
                   " octets; the most accepted is " + std::to_string(max_content),
               413);
  }
  return p;
}

const config::ApiKey* FindApiKey(const std::vector<config::ApiKey>& keys,
                                 std::string_view authorization) {
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() > kBearer.size() &&
      std::equal(kBearer.begin(), kBearer.end(), authorization.begin(),
                 [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
    authorization.remove_prefix(kBearer.size());
  }
  const config::ApiKey* found = nullptr;
  for (const config::ApiKey& key : keys) {  // every key compared: no early exit on a match
    if (ConstantTimeEquals(key.key, authorization) && found == nullptr) found = &key;
  }
  return found;
}

bool RateLimiter::Take(const std::string& key, const config::Rate& rate, MonoTime now,
                       int* retry_after) {
  if (rate.unlimited()) return true;
  std::lock_guard lock(mu_);
  auto it = limits_.find(key);
  if (it == limits_.end() || it->second.rate != rate) {
    it = limits_.insert_or_assign(key, Limit{rate, queue::Gcra(rate, rate.count)}).first;
  }
  if (it->second.gcra.TryTake(now)) return true;
  const auto wait = it->second.gcra.NextAllowed(now) - now;
  *retry_after =
      std::max<int>(1, static_cast<int>(std::chrono::ceil<std::chrono::seconds>(wait).count()));
  return false;
}

namespace {

json Results(const smtp::SubmitOutcome& outcome) {
  json recipients = json::array();
  int accepted = 0;
  for (const smtp::RecipientVerdict& v : outcome.recipients) {
    accepted += v.accepted() ? 1 : 0;
    recipients.push_back({{"address", v.address},
                          {"accepted", v.accepted()},
                          {"code", v.code},
                          {"enhanced_code", v.enhanced},
                          {"reason", v.text}});
  }
  json results = {
      {"total_accepted_recipients", accepted},
      {"total_rejected_recipients", static_cast<int>(outcome.recipients.size()) - accepted},
      {"recipients", recipients}};
  if (!outcome.id.empty()) results["id"] = outcome.id;
  return results;
}

void Answer(httplib::Response& res, const smtp::SubmitOutcome& outcome) {
  using Status = smtp::SubmitOutcome::Status;
  json body;
  int status = 200;
  switch (outcome.status) {
    case Status::kAccepted:
      body = {{"schema", "outpost.transmission/v1"}};
      break;
    case Status::kNoneAccepted:
      status = 422;
      body = RenderError(status, "no recipient was accepted; nothing was queued");
      break;
    case Status::kRefused:
      status = 422;
      body = RenderError(status, outcome.error + "; nothing was queued");
      break;
    case Status::kUnavailable:
      status = 503;
      body = RenderError(status, outcome.error + " (the spool refuses mail now); retry later");
      res.set_header("Retry-After", std::to_string(kRetryAfterSeconds));
      break;
  }
  body["results"] = Results(outcome);
  SendJson(res, status, body);
}

struct Handler {
  SubmissionContext ctx;
  std::shared_ptr<RateLimiter> limiter = std::make_shared<RateLimiter>();

  // 401/429/413 before the body is read as JSON; the key, or null when answered.
  const config::ApiKey* Admit(const config::Config& config, const httplib::Request& req,
                              httplib::Response& res) const {
    const config::ApiKey* key =
        FindApiKey(config.http_api_keys, req.get_header_value("Authorization"));
    if (key == nullptr) {
      res.set_header("WWW-Authenticate", "Bearer");
      SendError(res, 401,
                config.http_api_keys.empty()
                    ? "HTTP submission needs an API key and none is configured (http-api-key-file)"
                    : "missing or unknown API key (Authorization: Bearer KEY)");
      return nullptr;
    }
    int retry_after = 1;
    if (!limiter->Take(key->name, config.http_submit_rate, std::chrono::steady_clock::now(),
                       &retry_after)) {
      res.set_header("Retry-After", std::to_string(retry_after));
      SendError(res, 429, "API key '" + key->name + "' is over http-submit-rate; retry later");
      return nullptr;
    }
    return key;
  }

  void operator()(const httplib::Request& req, httplib::Response& res) const {
    const std::shared_ptr<const config::Config> config = ctx.config();
    const config::ApiKey* key = Admit(*config, req, res);
    if (key == nullptr) return;
    const std::uint64_t max =
        config->http_submit_max_size != 0 ? config->http_submit_max_size : config->max_message_size;
    // JSON escaping at most doubles a message (\r\n is 4 octets for 2), plus the envelope.
    constexpr std::uint64_t kEnvelope = 1u << 20;
    if (max < (UINT64_MAX - kEnvelope) / 2 && req.body.size() > 2 * max + kEnvelope) {
      return SendError(res, 413, "the request is larger than http-submit-max-size allows");
    }
    ParsedTransmission parsed = ParseTransmission(req.body, max);
    if (parsed.status != 0) return SendError(res, parsed.status, parsed.error);
    if (!ctx.submit) return SendError(res, 501, "HTTP submission is not wired in this build");
    std::string_view peer = req.remote_addr;
    if (peer.rfind("::ffff:", 0) == 0 && peer.find('.') != std::string_view::npos) {
      peer.remove_prefix(7);  // an IPv4 client of a dual-stack socket
    }
    parsed.submission.client_ip = IpAddress::Parse(peer).value_or(IpAddress{});
    parsed.submission.client_name = key->name;
    auto promise = std::make_shared<std::promise<smtp::SubmitOutcome>>();
    auto future = promise->get_future();
    ctx.post([submit = ctx.submit, promise, s = std::move(parsed.submission)]() mutable {
      submit(std::move(s),
             [promise](smtp::SubmitOutcome outcome) { promise->set_value(std::move(outcome)); });
    });
    if (future.wait_for(ctx.outcome_timeout) != std::future_status::ready) {
      return SendError(res, 504,
                       "no answer from the spool in time: the message may or may not be "
                       "queued (check the accounting log before resubmitting)");
    }
    try {
      Answer(res, future.get());
    } catch (const std::future_error&) {
      res.set_header("Retry-After", std::to_string(kRetryAfterSeconds));
      SendError(res, 503, "outpostd is shutting down; nothing was queued");
    }
  }
};

}  // namespace

void RegisterSubmissionApi(httplib::Server& server, SubmissionContext context) {
  server.Post(kTransmissionsPath, Handler{std::move(context)});
}

}  // namespace outpost::mgmt
