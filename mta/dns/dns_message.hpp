// DNS message TTLs: what c-ares' parsers do not expose (an MX answer's TTL, an SOA's negative TTL).
//
// ReadMessageTtls() walks a raw DNS response (RFC 1035 §4.1: header, questions, answers,
// authority) and reports the smallest TTL among the answer records and, when the authority
// section holds an SOA, the negative-caching TTL of RFC 2308 §5: min(SOA record TTL, SOA MINIMUM).
// It reads only; record data other than the SOA's is skipped by its length.
//
// Error policy: a truncated or malformed message gives `valid = false` (the caller then treats
// the answer as uncacheable); never throws, never reads past `length`.
// Limits: TTLs with the top bit set are read as 0 (RFC 2181 §8).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

namespace outpost::dns {

struct MessageTtls {
  bool valid = false;
  std::optional<std::uint32_t> answer_ttl;    // min TTL of the answer section's records
  std::optional<std::uint32_t> negative_ttl;  // from the authority section's SOA, if any
};

// Thread-safe (a pure function).
MessageTtls ReadMessageTtls(const unsigned char* message, std::size_t length);

}  // namespace outpost::dns
