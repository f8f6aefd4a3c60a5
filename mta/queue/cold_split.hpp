// IP warm-up: the split of a warm virtual MTA's mail between it and its cold virtual MTA
// (cold-virtual-mta / auto-cold-virtual-mta, max-cold-virtual-mta-msg; docs/config.md, "Cold
// virtual MTAs").
//
// What it does: the queue manager asks, per recipient as it is queued, whether the recipient's
// destination (the queue's domain: the recipient domain or its mx-rollup name) may take one more
// recipient through the cold virtual MTA today. Take() says yes while today's count for (warm
// virtual MTA, destination) is below the destination's max-cold-virtual-mta-msg, and counts it;
// the rest of the day's mail goes through the warm virtual MTA. Days are UTC days of the clock
// the caller passes (a simulated one in tests), and counts start over at midnight UTC.
//
// Restarts: each count is appended as one line `DAY WARM DESTINATION` to a file in the spool
// directory (opened O_APPEND, written before Take() returns; not fsync'd: a process crash keeps
// it, a power loss may lose the last lines). Load() reads back the lines of the current day, so a
// restart does not hand the cold address a second day's worth. The file holds at most the day's
// caps added up, and is truncated on the first count of a new day. Mail recovered from the spool
// at start-up is split again and counted again: the cold address may get fewer than its cap that
// day, never more.
//
// Thread-safety: not thread-safe (the scheduler's thread).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "mta/config/config.hpp"

namespace outpost::queue {

class ColdSplit {
 public:
  // `path`: the file that keeps today's counts ("" = memory only).
  explicit ColdSplit(std::string path = "");
  ~ColdSplit();
  ColdSplit(const ColdSplit&) = delete;
  ColdSplit& operator=(const ColdSplit&) = delete;

  // The warm -> cold pairs of `config` (a reload keeps today's counts).
  void SetConfig(const config::Config& config);
  // The cold virtual MTA of `warm`, or nullptr when it has none.
  const std::string* ColdOf(const std::string& warm) const;

  // Reads back the counts of the day `now_unix` falls in. An error text when the file exists but
  // cannot be read (counts then start at 0).
  std::optional<std::string> Load(std::int64_t now_unix);
  // True, and counted, when today's count for (warm, destination) is below `limit`.
  bool Take(const std::string& warm, const std::string& destination, std::uint64_t limit,
            std::int64_t now_unix);
  // Today's count for (warm, destination).
  std::uint64_t Today(const std::string& warm, const std::string& destination,
                      std::int64_t now_unix) const;
  // The last write error since the previous call ("" = none), for the log.
  std::string TakeWriteError() { return std::exchange(write_error_, std::string()); }

 private:
  void StartDay(std::int64_t day);
  void Rewrite();  // the file from counts_ (truncated first)
  void Append(const std::string& line);

  std::string path_;
  int fd_ = -1;
  std::int64_t day_ = -1;                                  // days since the epoch (UTC) of counts_
  std::unordered_map<std::string, std::uint64_t> counts_;  // "WARM DESTINATION" -> count
  std::unordered_map<std::string, std::string> cold_of_;   // warm -> cold
  std::string write_error_;
};

}  // namespace outpost::queue
