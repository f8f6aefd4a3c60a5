// The return path's processor: mail accepted for a <bounce-processor> or
// <feedback-loop-processor> address is read from the spool, understood, and recorded (rb / f
// accounting records) instead of being delivered.
//
// Flow: the daemon offers every accepted (and every recovered) message to Take(). A message with
// no pending recipient that a processor's <address-list> matches is refused and goes to the
// queues as usual. Otherwise the processor owns it: on its own worker thread it reads the message
// from the spool, parses it once per processor (report.hpp), writes the records, and finishes
// each report recipient:
//   understood   records written; delivered too when deliver-matched-email yes
//   unmatched    counted; kept whole in KEEP_DIR/QUEUEID.eml (synced) or, with
//                deliver-unmatched-email yes, delivered
// A finished recipient is marked done in the spool once the accounting files have its records
// and the suppression list its entries (AccountingLog::Durable() after Flush(), and
// Hooks::sync_suppressions; otherwise it stays and is read again after a restart:
// at least once, never lost). Recipients left to deliver (other recipients of the message, and
// those the deliver-*-email directives send on) are handed back through `deliver` on the caller's
// thread (via `post`) as a RecoveredMessage whose done flags cover the finished ones; with none
// left, the whole message is marked done.
//
// Stop() finishes the message being processed and leaves the rest in the spool (read again at the
// next start).
//
// Thread-safety: Take() and Stats() may be called from any thread; the callbacks run on the
// thread `post` runs them on.
// Known limits (XXX): the processor keeps the configuration it was built with (a reload does not
// change the address lists or deliver-*-email until a restart); a recipient handed on for
// delivery is read again as a report if outpostd restarts before it is delivered (its records
// are then written twice); reports are parsed in memory whole (bounded by max-message-size).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mta/acct/accounting_writer.hpp"
#include "mta/config/config.hpp"
#include "mta/delivery/reply_classifier.hpp"
#include "mta/returnpath/daily_counts.hpp"
#include "mta/returnpath/report.hpp"
#include "mta/returnpath/suppression_list.hpp"
#include "mta/spool/spool.hpp"

namespace outpost::returnpath {

enum class Route { kNone, kBounce, kFeedback };
// Which processor reads mail for `recipient` (the bounce processor first).
Route RouteOf(const config::Config& config, const std::string& recipient);
// Has `envelope` a recipient, not finished per `done` (null: none finished), that a processor
// reads?
bool HasReportRecipient(const config::Config& config, const spool::Envelope& envelope,
                        const std::vector<bool>* done);

struct ProcessorStats {
  // Indexed by processor: 0 bounce, 1 feedback loop.
  std::uint64_t understood[2] = {};  // reports understood (one per message and processor)
  std::uint64_t unmatched[2] = {};   // reports not understood (kept or delivered)
  std::uint64_t records = 0;         // rb and f records written
  std::uint64_t keep_errors = 0;     // unmatched reports that could not be written to KEEP_DIR
};

class Processor {
 public:
  struct Hooks {
    std::function<void(std::function<void()>)> post;         // run on the delivery thread
    std::function<void(spool::RecoveredMessage&&)> deliver;  // queue what is left (that thread)
    std::function<std::int64_t()> now;                       // UNIX seconds
    // The suppression list (both optional): `suppress` is told each complainer (f record) and
    // each hard-bounced recipient (rb record, suppression_sink.hpp's HardBounce()) on the worker
    // thread; `sync_suppressions` makes them durable before the reports are marked done (false:
    // the reports stay in the spool and are read again after a restart).
    std::function<void(suppression::Kind, const std::string& address)> suppress;
    std::function<bool()> sync_suppressions;
  };

  Processor(std::shared_ptr<const config::Config> config, spool::Spool& spool,
            acct::AccountingLog& accounting, std::string keep_dir, Hooks hooks);
  ~Processor();
  Processor(const Processor&) = delete;
  Processor& operator=(const Processor&) = delete;

  // Takes the message when it has a pending report recipient (`done`: recipients already
  // finished, null for none); false (and nothing done) otherwise.
  bool Take(const spool::SpoolId& id, const spool::Envelope& envelope, std::uint64_t size,
            const std::vector<bool>* done = nullptr);
  void Stop();
  ProcessorStats Stats() const;
  // Today's (UTC) remote bounces and complaints per provider (hooks.now decides the day).
  DayCounts Today() const { return daily_.Today(hooks_.now()); }

 private:
  struct Job {
    spool::RecoveredMessage message;
  };
  // What becomes of a report recipient once its report was read.
  enum class Disposition { kFinish, kDeliver, kRetain };
  void Run();
  void Process(Job& job);
  // Reads the message as processor `route`'s report and records it.
  Disposition Handle(Route route, const spool::Envelope& envelope, const std::string& data,
                     const std::string& recipient);
  void Record(Route route, const Report& report, const spool::Envelope& envelope);
  bool Keep(const spool::Envelope& envelope, const std::string& data);

  std::shared_ptr<const config::Config> config_;
  spool::Spool& spool_;
  acct::AccountingLog& accounting_;
  delivery::ReplyClassifier classifier_;
  std::string keep_dir_;
  Hooks hooks_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;
  bool stopping_ = false;
  ProcessorStats stats_;
  DailyCounts daily_;
  std::thread worker_;
};

}  // namespace outpost::returnpath
