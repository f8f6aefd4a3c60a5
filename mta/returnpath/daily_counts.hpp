// Today's return path per mailbox provider: the remote bounces and complaints outpostd recorded
// since midnight UTC, for the status API (/status.json "returnpath") and the web console.
//
// What it does: Add() counts one rb or f record under the provider of its recipient's domain
// (common/provider_map.hpp, the exporter's default map: gmail, microsoft, yahoo, ... and
// "other"), and starts over when the UTC day changes. Today() gives the counts of the day `now`
// falls in (none when nothing was recorded yet that day).
//
// Invariants: bounded by the provider map (never a recipient or domain as a key); counts live in
// memory only and restart from 0 with outpostd (the accounting files and the exporter's counters
// are the durable record).
//
// Thread-safety: all members are thread-safe (one mutex): the processor's worker adds, the
// management plane reads.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/provider_map.hpp"

namespace outpost::returnpath {

enum class RecordKind { kRemoteBounce, kComplaint };

struct ProviderDay {
  std::string provider;
  std::uint64_t remote_bounces = 0;
  std::uint64_t complaints = 0;
};

struct DayCounts {
  std::string day;                       // "YYYY-MM-DD" (UTC)
  std::vector<ProviderDay> by_provider;  // providers with at least one record, map order
};

// A feedback report is a complaint unless it says "not-spam" or is an authentication-failure
// report (RFC 6591) — the same rule as the complaint-rate recording rule.
bool IsComplaint(std::string_view feedback_type);

class DailyCounts {
 public:
  DailyCounts();

  void Add(RecordKind kind, std::string_view recipient, std::int64_t now_unix);
  DayCounts Today(std::int64_t now_unix) const;

 private:
  const ProviderMap map_;
  mutable std::mutex mu_;
  ProviderResolver resolver_;        // guarded by mu_
  std::int64_t day_ = -1;            // days since the epoch of the counts below
  std::vector<ProviderDay> counts_;  // indexed like map_.providers()
};

}  // namespace outpost::returnpath
