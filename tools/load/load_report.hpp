// LoadReport: what outpost-load measured, and its two renderings (JSON and human-readable).
//
// A message is *attempted* when its MAIL command is sent, *accepted* when the server answers 250
// after DATA, *rejected* when a complete transaction ends without that 250 (MAIL, every RCPT or
// DATA refused, or a non-250 final reply), and *failed* when the connection is lost or times out
// in the middle of it. Latency is measured for accepted messages only, from writing MAIL to the
// 250 after the final dot. Replies are counted by code: all replies to MAIL/RCPT/DATA/end of data
// ("replies"), and separately the RCPT replies ("rcpt_replies") and final replies after the
// message body ("data_replies"). Errors are counted by kind: connect, greeting, connection_lost,
// timeout, ehlo.
//
// Thread-safety: not thread-safe; filled from the load generator's one io thread.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace outpost::load {

struct LoadReport {
  std::string target;
  std::uint32_t sessions = 0;
  double elapsed_seconds = 0;
  std::uint64_t connections = 0;  // TCP connections established
  std::uint64_t messages_attempted = 0;
  std::uint64_t messages_accepted = 0;
  std::uint64_t messages_rejected = 0;
  std::uint64_t messages_failed = 0;
  std::uint64_t recipients_accepted = 0;  // RCPT answered 2xx
  std::uint64_t bytes_accepted = 0;       // message bytes of accepted messages
  std::map<int, std::uint64_t> replies, rcpt_replies, data_replies;
  std::map<std::string, std::uint64_t> errors;
  std::vector<std::uint64_t> latencies_us;  // one per accepted message

  std::uint64_t ErrorCount() const;
  nlohmann::json ToJson() const;
  std::string ToHuman() const;
};

// Nearest-rank percentile (p in [0, 100]) of the values, in the values' unit; 0 when empty.
// Sorts `values` in place.
std::uint64_t Percentile(std::vector<std::uint64_t>& values, double p);

}  // namespace outpost::load
