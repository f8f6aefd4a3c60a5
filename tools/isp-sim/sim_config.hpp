// The ISP simulator's configuration: a small line-oriented language scripting, per recipient
// domain, how the simulated receiving MX answers.
//
//   # comment (to end of line, outside quotes)
//   listen 127.0.0.1:0                 SMTP listener (port 0: the kernel picks; printed at start)
//   stats-listen 127.0.0.1:0           HTTP listener: GET /stats -> JSON
//   hostname mx.sim.test               name in the greeting and EHLO reply
//   greeting "421 4.3.2 Service not available"   whole-session greeting override (non-2xx closes)
//   max-conn-per-ip 5 "421 4.7.0 Too many concurrent connections"   cap at greeting, per client IP
//   max-message-size 52428800          advertised SIZE; larger messages get 552
//   record-message-ids 100000          bound on the list of Message-IDs kept in the stats
//   split-replies yes                  write every reply in 3-byte pieces, one write each (a
//                                      multi-line reply arrives across many packets)
//   starttls-fail yes                  advertise STARTTLS, answer 220, then fail the handshake
//   silent-greeting-ratio 0.5          for that ratio of connections (RatioSchedule over all
//                                      connections) never send the greeting; hold the connection
//                                      until the client closes it. `silent-greeting yes` = ratio 1
//   <domain gmail.com>                 one block per recipient domain; `*` is the default block
//     accept                           (the default behaviour; may be written alone)
//     defer-ratio 0.3 "421-4.7.28 ..."       RCPT answered with this 4xx reply for that ratio
//     bounce-ratio 0.05 "550 5.1.1 ..."      RCPT answered with this 5xx reply (of those not
//                                            deferred) for that ratio
//     reply-delay 200ms                wait before every reply of a session bound to this domain
//     drop-mid-data-ratio 0.1          close the connection in the middle of DATA for that ratio
//     reset-mid-data-ratio 0.1         reset it (TCP RST) in the middle of DATA for that ratio
//     silent-after-data-ratio 0.1      take the whole message, then never answer the final dot
//     garbage-reply-ratio 0.1          take the whole message, then answer the dot with garbage
//     max-conn-per-ip 5 "421 ..."      at most 5 sessions per client IP bound to this domain
//   </domain>
//   <domain *> accept </domain>        a block may also be written on one line
//
// Semantics: a session is *bound* to the domain of its first RCPT (an MTA's connection carries
// one destination); reply-delay and a domain's max-conn-per-ip use that binding (before the
// first RCPT, the `*` block's delay applies). Ratios use RatioSchedule (deterministic; see
// ratio_schedule.hpp), counted per domain block: defer over every RCPT of the domain, bounce
// over the RCPTs that were not deferred, drop-mid-data / reset-mid-data / silent-after-data /
// garbage-reply over the DATA transactions whose first accepted recipient is in the domain (each
// its own schedule, checked in that order; the first that picks a transaction wins). A message
// that got no 250 (dropped, reset, silence, garbage) is not counted in `messages` nor in
// `message_ids`: the sender must retry it.
//
// Replies are quoted strings: "CODE text"; `\n` separates lines of a multi-line reply (each line
// may repeat "CODE-" / "CODE " or not; the wire form is rebuilt with the right separators),
// `\"` and `\\` escape. A domain without a block, when there is no `*` block, is accepted.
//
// Error policy: Parse returns nullopt and a message "line N: ..." for any unknown directive,
// bad value or unbalanced block; the simulator then exits with status 2 (bad configuration).
// Limits: STARTTLS (tls-certificate / tls-key) is not implemented and is rejected as such; only
// its failure (starttls-fail) is simulated.
//
// Thread-safety: value types.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace outpost::isp_sim {

// An SMTP reply: a code and one or more text lines.
struct Reply {
  int code = 250;
  std::vector<std::string> lines;  // text after "CODE " / "CODE-"; at least one line

  // "421-a\n421 b", "421 a\nb" or "421-4.7.28 ..." -> code 421 and the texts.
  static std::optional<Reply> Parse(std::string_view text, std::string* error);
  // "421-a\r\n421 b\r\n".
  std::string Wire() const;
  bool operator==(const Reply&) const = default;
};

struct Endpoint {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  // "127.0.0.1:25", "[::1]:0", "localhost:2525".
  static std::optional<Endpoint> Parse(std::string_view text);
};

struct DomainPolicy {
  std::string name = "*";  // lower-case domain, or "*"
  std::uint32_t defer_ppm = 0;
  Reply defer_reply{421, {"4.7.0 Try again later"}};
  std::uint32_t bounce_ppm = 0;
  Reply bounce_reply{550, {"5.1.1 The email account that you tried to reach does not exist"}};
  std::chrono::milliseconds reply_delay{0};
  std::uint32_t drop_mid_data_ppm = 0;
  std::uint32_t reset_mid_data_ppm = 0;
  std::uint32_t silent_after_data_ppm = 0;
  std::uint32_t garbage_reply_ppm = 0;
  std::uint32_t max_conn_per_ip = 0;  // 0: unlimited
  Reply max_conn_reply{421, {"4.7.0 Too many concurrent connections"}};
};

struct SimConfig {
  Endpoint listen;
  Endpoint stats_listen;
  std::string hostname = "isp-sim.invalid";
  std::optional<Reply> greeting;      // overrides "220 <hostname> ESMTP"
  std::uint32_t max_conn_per_ip = 0;  // at greeting; 0: unlimited
  Reply max_conn_reply{421, {"4.7.0 Too many concurrent connections"}};
  std::uint64_t max_message_size = 50ull * 1024 * 1024;
  std::size_t record_message_ids = 100'000;
  bool split_replies = false;
  bool starttls_fail = false;
  std::uint32_t silent_greeting_ppm = 0;
  std::vector<DomainPolicy> domains;  // in file order; names unique

  static std::optional<SimConfig> Parse(std::string_view text, std::string* error);
  static std::optional<SimConfig> LoadFile(const std::string& path, std::string* error);

  // Index into `domains` of the block for this (lower-case) domain: exact name, else "*", else
  // -1 (built-in accept-everything policy).
  int PolicyIndexFor(std::string_view domain) const;
};

// "200ms", "2s", "1m", "0" -> duration.
std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text);

}  // namespace outpost::isp_sim
