#include "mta/queue/completion.hpp"

#include "mta/log/log.hpp"

namespace outpost::queue {

Completion::Marks Completion::Begin(const std::string& queue) {
  if (sink_.Durable()) return Marks::kApply;
  // The final records could not be written (accounting disk full): the recipients stay in the
  // spool, not to leave it without a durable record, until the records reach the file.
  if (held_.empty()) {
    OUTPOST_LOG(kError, "queue")
        << queue << ": accounting not writable; finished recipients are kept in the spool "
        << "until their records are written";
    next_check_ = clock_.Now().mono + std::chrono::seconds(1);
  }
  return Marks::kHold;
}

void Completion::Mark(Marks marks, spool::SpoolId id, std::uint32_t rcpt) {
  if (marks == Marks::kHold) {
    held_.push_back(HeldMark{id, rcpt});
  } else if (rcpt == kWholeMessage) {
    spool_.MarkMessageDone(id);
  } else {
    spool_.MarkRecipientDone(id, rcpt);
  }
}

void Completion::ReleaseHeld() {
  if (held_.empty()) return;
  const MonoTime now = clock_.Now().mono;
  if (now < next_check_) return;
  sink_.Flush();
  if (!sink_.Durable()) {
    next_check_ = now + std::chrono::seconds(1);
    return;
  }
  for (const HeldMark& h : held_) Mark(Marks::kApply, h.id, h.rcpt);
  OUTPOST_LOG(kInfo, "queue") << "accounting writable again; " << held_.size()
                              << " held completion(s) marked done in the spool";
  std::vector<HeldMark>().swap(held_);
}

std::optional<MonoTime> Completion::NextCheck() const {
  if (held_.empty()) return std::nullopt;
  return next_check_;
}

}  // namespace outpost::queue
