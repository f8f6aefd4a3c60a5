// HTTP submission on the management port, in the shape of PowerMTA 5's Transmissions API (itself
// modelled on SparkPost's): POST /api/v1/transmissions with a JSON body carrying a pre-built
// RFC 5322 message and its recipients. docs/status-api.md has the schema, answers and errors.
//
//   {"recipients": [{"address": "a@example.com"}, {"address": {"email": "b@example.com"}}, ...],
//    "content": {"email_rfc822": "From: ...\r\n...\r\n\r\nbody"},
//    "return_path": "bounces@example.com",   (or "mail_from")
//    "campaign_id": "JOB",                   (the job id, as X-Job would set it)
//    "options": {"virtual_mta": "VMTA or pool", "envid": "ENVID"}}
//
// Access: http-access level submit (or admin), checked before any handler (management_plane),
// then an API key from an http-api-key-file, as `Authorization: Bearer KEY` (or the bare key, as
// SparkPost's clients send it): none or unknown 401. Then http-submit-rate per key (429 with
// Retry-After), http-submit-max-size (413), the JSON (400 naming the field). The message goes
// through smtp::SmtpServer::Submit, the path DATA's end takes: each recipient is answered as RCPT
// would be (suppressed: 550 5.7.1); 200 means the message is durable in the spool exactly as
// SMTP's 250; 422 none accepted or an unknown virtual MTA; 503 with Retry-After the spool or the
// queue refuses mail now (disk low: spool-min-free) — nothing was kept.
// Substitution (`substitution_data`) is not supported: the message is sent as given, and a request
// that asks for it gets 400 rather than mail with unreplaced {{placeholders}}.
//
// Thread-safety: the handlers run on cpp-httplib's threads; the submission itself is posted to
// the io_context (SubmitHook); RateLimiter is synchronised.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/clock.hpp"
#include "mta/config/config.hpp"
#include "mta/queue/gcra.hpp"
#include "mta/smtp/smtp_server.hpp"

namespace httplib {
class Server;
}

namespace outpost::mgmt {

inline constexpr const char* kTransmissionsPath = "/api/v1/transmissions";
bool IsSubmissionPath(const std::string& path);

// The request body, checked. `status` 0 when good, else 400 or 413 with `error`.
struct ParsedTransmission {
  smtp::Submission submission;  // mail_from, recipients, content (CRLF), vmta, job_id, env_id
  int status = 0;
  std::string error;
};
ParsedTransmission ParseTransmission(std::string_view body, std::uint64_t max_content);

// The key an Authorization header names, among `keys`; null when none matches (constant time per
// key, so timing does not tell how much of a key was right).
const config::ApiKey* FindApiKey(const std::vector<config::ApiKey>& keys,
                                 std::string_view authorization);

// http-submit-rate per key name: a queue::Gcra with a burst of the rate's count (a key that was
// idle may send `count` at once, then one each per/count). A reload that changes the rate starts
// the keys afresh.
class RateLimiter {
 public:
  // True when `key` may submit at `now` (a steady clock's time); otherwise false and *retry_after
  // says how many seconds until it may (at least 1).
  bool Take(const std::string& key, const config::Rate& rate, MonoTime now, int* retry_after);

 private:
  struct Limit {
    config::Rate rate;
    queue::Gcra gcra;
  };
  std::mutex mu_;
  std::map<std::string, Limit> limits_;
};

// Runs on the io_context's thread: hands the submission to smtp::SmtpServer::Submit.
using SubmitHook = std::function<void(smtp::Submission, smtp::SubmitDone)>;

struct SubmissionContext {
  std::function<std::shared_ptr<const config::Config>()> config;
  std::function<void(std::function<void()>)> post;  // onto the io_context
  SubmitHook submit;                                // empty: 501
  std::chrono::seconds outcome_timeout{60};         // waiting for the spool's answer
};

void RegisterSubmissionApi(httplib::Server& server, SubmissionContext context);

}  // namespace outpost::mgmt
