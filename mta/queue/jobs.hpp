// Jobs: the job id a message was injected with (PowerMTA's X-Job header, spool::Envelope::job_id,
// accounting `jobId`) as a first-class scheduler object.
//
// Interning. Each distinct job id is kept once, in a JobTable slot; a queued message names its
// job by the slot's 32-bit index (MessageRecord::job, which fits in the record's padding: no byte
// per message or recipient is added). Index 0 is "no job" (the empty id).
//
// Counters per job (JobStats): recipients and messages queued now (pending: fresh, scheduled,
// held, parked or in a transaction), and since the job was first seen: recipients accepted, and
// the outcomes delivered / deferred (attempts) / bounced (5xx, bad domain, expired, deleted) with
// expired and deleted also on their own. Outcomes are counted where they are written
// (JobCountingSink, in front of the accounting sink), so every record counts once.
//
// Retention. A job stays while it has mail queued or is paused. A finished job (nothing queued,
// not paused) is kept for `max_finished` more finished jobs, then forgotten (oldest finished
// first), so the table is bounded by the jobs with mail queued plus `max_finished`. A forgotten
// job that gets mail again starts from zero.
//
// Thread-safety: not thread-safe; the scheduler's thread only (queue_manager.hpp).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "mta/queue/outcome.hpp"

namespace outpost::queue {

struct JobStats {
  std::string id;
  bool paused = false;
  std::uint64_t recipients = 0;  // queued now
  std::uint64_t messages = 0;    // queued now
  std::uint64_t received = 0;    // recipients accepted since first seen
  std::uint64_t delivered = 0;
  std::uint64_t deferred = 0;  // deferrals (a recipient deferred twice counts twice)
  std::uint64_t bounced = 0;   // final failures: includes expired and deleted
  std::uint64_t expired = 0;
  std::uint64_t deleted = 0;  // by the operator (delete --queue or --jobId)
  std::int64_t first_seen_unix = 0;
  std::int64_t last_seen_unix = 0;  // last message accepted
};

class JobTable {
 public:
  static constexpr std::uint32_t kNoJob = 0;
  static constexpr std::size_t kDefaultMaxFinished = 1000;

  explicit JobTable(std::size_t max_finished = kDefaultMaxFinished);

  // The slot of `id` (created if new); kNoJob for "".
  std::uint32_t Intern(std::string_view id, std::int64_t now_unix);
  std::optional<std::uint32_t> Find(std::string_view id) const;
  JobStats& At(std::uint32_t index) { return slots_[index].stats; }
  const JobStats& At(std::uint32_t index) const { return slots_[index].stats; }
  bool Paused(std::uint32_t index) const { return index != kNoJob && slots_[index].stats.paused; }
  // Bumped by a delete by job: a transaction that started before turns a would-be deferral of
  // the job into a deletion (as Queue::deletions does for a queue).
  std::uint32_t Deletions(std::uint32_t index) const { return slots_[index].deletions; }
  void CountDeletion(std::uint32_t index) { ++slots_[index].deletions; }

  // A message of the job entered the queues with `recipients` pending.
  void Accepted(std::uint32_t index, std::uint32_t recipients, std::int64_t now_unix);
  // `recipients` of a message of the job got their final outcome; `message_done` when none of
  // the message's is left.
  void Finished(std::uint32_t index, std::uint32_t recipients, bool message_done);
  void SetPaused(std::uint32_t index, bool paused);
  // Counts an outcome under its job (by its job_id; outcomes of unknown jobs are not counted).
  void Count(const Outcome& outcome);

  // Every job known (queued or recently finished), in no particular order.
  std::vector<JobStats> Snapshot() const;
  std::size_t size() const { return by_id_.size(); }

 private:
  struct Slot {
    JobStats stats;
    std::uint32_t deletions = 0;
    std::uint64_t finished_seq = 0;  // which entry of finished_ is current (0: none)
    bool live = false;
  };
  void MaybeRetire(std::uint32_t index);

  std::size_t max_finished_;
  std::vector<Slot> slots_;  // [0] is kNoJob
  std::vector<std::uint32_t> free_;
  std::unordered_map<std::string, std::uint32_t> by_id_;
  std::deque<std::pair<std::uint32_t, std::uint64_t>> finished_;  // (slot, finished_seq)
  std::uint64_t next_seq_ = 1;
  std::size_t finished_count_ = 0;  // slots whose current entry is in finished_
};

// Counts each outcome under its job, then passes it on to the real sink.
class JobCountingSink final : public OutcomeSink {
 public:
  JobCountingSink(JobTable& jobs, OutcomeSink& next) : jobs_(jobs), next_(next) {}
  void Write(const Outcome& outcome) override {
    jobs_.Count(outcome);
    next_.Write(outcome);
  }
  void Flush() override { next_.Flush(); }
  bool Durable() const override { return next_.Durable(); }

 private:
  JobTable& jobs_;
  OutcomeSink& next_;
};

}  // namespace outpost::queue
