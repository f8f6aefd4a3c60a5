// SimStats: what the ISP simulator saw, per client IP and per recipient domain, plus the
// Message-IDs of accepted messages. Tests compare these numbers with what a sender claims.
//
// Counters (per client IP): connections_total, connections_current, connections_peak (TCP
// connections open at once, including those refused by a cap), connection_rate_peak (most
// connections started within any 1-second window), connections_refused (greeting or domain cap,
// or a non-2xx greeting override), messages (250 after DATA), recipients_accepted / _deferred /
// _bounced, bytes (accepted message bytes, after dot-unstuffing, CRLF line ends),
// dropped_mid_data; the scripted faults reset_mid_data, silent_after_data, garbage_replies,
// tls_failures, silent_greetings (also summed in the totals). Per recipient domain:
// recipients_accepted / _deferred / _bounced, messages (accepted messages with at least one
// accepted recipient there), dropped_mid_data. Message-IDs: the header value (angle brackets kept)
// of each accepted message, in acceptance order, at most `max_message_ids` of them (the rest are
// counted in message_ids_not_recorded).
//
// Thread-safety: not thread-safe; owned by the simulator's single io thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace outpost::isp_sim {

struct RecipientCounters {
  std::uint64_t recipients_accepted = 0;
  std::uint64_t recipients_deferred = 0;
  std::uint64_t recipients_bounced = 0;
  std::uint64_t messages = 0;
  std::uint64_t dropped_mid_data = 0;
};

struct ClientCounters : RecipientCounters {
  std::uint64_t connections_total = 0;
  std::uint64_t connections_current = 0;
  std::uint64_t connections_peak = 0;
  std::uint64_t connection_rate_peak = 0;
  std::uint64_t connections_refused = 0;
  std::uint64_t bytes = 0;
  std::uint64_t reset_mid_data = 0;
  std::uint64_t silent_after_data = 0;
  std::uint64_t garbage_replies = 0;
  std::uint64_t tls_failures = 0;
  std::uint64_t silent_greetings = 0;
  std::deque<std::chrono::steady_clock::time_point> recent_starts;  // within the last second
  std::map<std::string, std::uint64_t> bound_sessions;  // domain -> current sessions bound
};

class SimStats {
 public:
  explicit SimStats(std::size_t max_message_ids) : max_message_ids_(max_message_ids) {}

  // A TCP connection from `ip` opened / closed.
  void ConnectionOpened(const std::string& ip, std::chrono::steady_clock::time_point now);
  void ConnectionClosed(const std::string& ip);
  ClientCounters& Client(const std::string& ip) { return clients_[ip]; }
  RecipientCounters& Domain(const std::string& domain) { return domains_[domain]; }
  void RecordMessageId(std::string id);

  nlohmann::json ToJson() const;

 private:
  std::size_t max_message_ids_;
  std::map<std::string, ClientCounters> clients_;
  std::map<std::string, RecipientCounters> domains_;
  std::vector<std::string> message_ids_;
  std::uint64_t message_ids_not_recorded_ = 0;
  std::uint64_t messages_without_id_ = 0;
};

}  // namespace outpost::isp_sim
