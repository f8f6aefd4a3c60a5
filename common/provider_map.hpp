// Maps recipient domains to a bounded set of mailbox providers (the `provider` metric label).
//
// What it does: "gmail.com" -> "gmail", "hotmail.co.uk" -> "microsoft", anything unknown ->
// "other". A domain matches itself or any parent listed in the map (mx.example.com matches
// example.com). Defaults cover gmail, microsoft, yahoo, aol, apple, comcast and gmx (gmx.* and
// web.de); a map file replaces them entirely: one "domain provider" pair per line, '#' starts a
// comment. Used by outpost_exporter (the `provider` label) and by outpostd (today's return path
// per provider in /status.json, mta/returnpath/daily_counts.hpp), so both name providers alike.
//
// Invariants: provider index 0 is always "other"; the set of providers is fixed after construction,
// so label cardinality is bounded by the map, never by traffic.
//
// Error policy: LoadFile/Parse return an error string (start-up configuration, not the data path).
//
// Tunables/limits: ProviderResolver memoizes domains in a LabelCache (bounded; it starts over
// when full), so the hot path hashes and compares bytes and allocates nothing.
//
// Thread-safety: ProviderMap is immutable after construction (thread-safe to share);
// ProviderResolver is not thread-safe (one per ingest thread).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/label_cache.hpp"

namespace outpost {

class ProviderMap {
 public:
  static ProviderMap Defaults();
  // Parses "domain provider" lines; nullopt and *error on a bad line.
  static std::optional<ProviderMap> Parse(std::string_view text, std::string* error);
  static std::optional<ProviderMap> LoadFile(const std::string& path, std::string* error);

  const std::vector<std::string>& providers() const { return providers_; }
  // Index of a provider name, or 0 ("other").
  std::uint16_t IndexOfProvider(std::string_view name) const;
  // Exact lookup of a lower-case domain; nullopt if absent (parents are not tried).
  std::optional<std::uint16_t> FindExact(const std::string& domain) const;

 private:
  ProviderMap();
  void Add(const std::string& domain, const std::string& provider);

  std::vector<std::string> providers_;  // [0] = "other"
  std::unordered_map<std::string, std::uint16_t> domains_;
};

class ProviderResolver {
 public:
  explicit ProviderResolver(const ProviderMap& map) : map_(map) {}
  // Provider index of `domain` (any case); 0 for unknown or empty.
  std::uint16_t Resolve(std::string_view domain);

 private:
  const ProviderMap& map_;
  LabelCache memo_;  // domain as written (any case) -> provider index
};

}  // namespace outpost
