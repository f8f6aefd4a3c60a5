// The durable completion of finished recipients: the one place that knows the commit order.
//
// Order, fixed: write the transaction's outcomes -> flush the sink once -> ask Durable() -> only
// then Spool::MarkRecipientDone / MarkMessageDone. When the sink is not durable after the flush
// (accounting disk full), the marks are held, not dropped and not applied: a message leaves the
// spool only after its final records are in the accounting file. Held marks are retried once a
// second (ReleaseHeld(): flush, ask again, then mark); a crash before that redelivers the
// recipients after the restart (at-least-once, never lost).
//
// The scheduler (queue_manager.cpp) owns which recipients are final and the DSN's content; this
// class owns the order. Usage per transaction: Write()..., Flush(), then Begin() once and Mark()
// per recipient (or the whole message).
//
// Thread-safety: not thread-safe; the scheduler's thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "mta/queue/outcome.hpp"
#include "mta/spool/spool.hpp"

namespace outpost::queue {

class Completion {
 public:
  static constexpr std::uint32_t kWholeMessage = 0xffffffffu;

  // What Begin() decided for the marks that follow it.
  enum class Marks { kApply, kHold };

  Completion(OutcomeSink& sink, spool::Spool& spool, const Clock& clock)
      : sink_(sink), spool_(spool), clock_(clock) {}

  void Write(const Outcome& outcome) { sink_.Write(outcome); }
  void Flush() { sink_.Flush(); }
  bool Durable() const { return sink_.Durable(); }

  // After Flush(): may the finished recipients leave the spool now? kHold when the sink is not
  // durable (logged once per episode, naming `queue`).
  Marks Begin(const std::string& queue);
  // Marks recipient `rcpt` (kWholeMessage: the message) of `id` done, or holds it.
  void Mark(Marks marks, spool::SpoolId id, std::uint32_t rcpt);

  // Applies the held marks once the sink is durable again (checked at most once a second).
  void ReleaseHeld();
  // When ReleaseHeld() wants to run next (nullopt: nothing held).
  std::optional<MonoTime> NextCheck() const;
  std::size_t held() const { return held_.size(); }

 private:
  struct HeldMark {
    spool::SpoolId id;
    std::uint32_t rcpt;  // kWholeMessage: MarkMessageDone
  };

  OutcomeSink& sink_;
  spool::Spool& spool_;
  const Clock& clock_;
  std::vector<HeldMark> held_;
  MonoTime next_check_{};
};

}  // namespace outpost::queue
