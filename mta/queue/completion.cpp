#include "mta/queue/completion.hpp"

#include <memory>
#include <utility>

#include "common/invariant.hpp"
#include "mta/log/log.hpp"

namespace outpost::queue {

namespace {

std::string HeaderSection(const std::string& data) {
  std::size_t end = data.find("\r\n\r\n");
  return end == std::string::npos ? data : data.substr(0, end + 2);
}

std::string StatusCode(const delivery::Reply& reply) {
  if (!reply.enhanced.empty()) return reply.enhanced;
  if (reply.code == 0) return "4.4.2";
  return std::to_string(reply.code / 100) + ".0.0";
}

// dsnMta reads "host (address)": Remote-MTA takes the host alone.
std::string RemoteHost(const std::string& remote_mta) {
  return remote_mta.substr(0, remote_mta.find(" ("));
}

}  // namespace

LastDeferral DeferralOf(const delivery::Reply& reply, const std::string& remote_mta) {
  LastDeferral d;
  if (reply.code != 0) {
    d.diagnostic = "smtp; " + reply.Full();
  } else {
    d.diagnostic = "X-Outpost; connection lost" + (reply.text.empty() ? "" : ": " + reply.text);
  }
  d.remote_mta = RemoteHost(remote_mta);
  return d;
}

LastDeferral ConnectFailureOf(const std::string& error, const std::string& remote_mta) {
  return LastDeferral{"X-Outpost; " + error, RemoteHost(remote_mta)};
}

delivery::DsnRecipient RefusedReport(const std::string& address, const delivery::Reply& reply,
                                     const std::string& remote_mta) {
  delivery::DsnRecipient d;
  d.address = address;
  d.status = StatusCode(reply);
  d.diagnostic = "smtp; " + reply.Full();
  d.remote_mta = RemoteHost(remote_mta);
  return d;
}

delivery::DsnRecipient ExpiredReport(const std::string& address, const LastDeferral& why,
                                     const std::string& after) {
  delivery::DsnRecipient d;
  d.address = address;
  d.status = "5.4.7";
  d.diagnostic = why.diagnostic;
  d.remote_mta = why.remote_mta;
  d.expired_after = after;
  return d;
}

delivery::DsnRecipient DomainFailedReport(const std::string& address, const std::string& error) {
  // No remote reply: the DSN says what DNS said, without a Diagnostic-Code of type smtp.
  delivery::DsnRecipient d;
  d.address = address;
  d.status = "5.1.2";
  d.diagnostic = "X-Outpost; " + error;
  return d;
}

Completion::Completion(OutcomeSink& sink, spool::Spool& spool, const Clock& clock,
                       std::string reporting_mta, std::string postmaster)
    : sink_(sink),
      spool_(spool),
      clock_(clock),
      reporting_mta_(std::move(reporting_mta)),
      postmaster_(std::move(postmaster)),
      post_([](std::function<void()> task) { task(); }) {}

void Completion::Write(const Outcome& outcome) {
  (void)OUTPOST_INVARIANT(
      outcome.kind == OutcomeKind::kConnectionFailed || !outcome.recipient.empty(),
      "a recipient's outcome names the recipient");
  sink_.Write(outcome);
}

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

void Completion::CommitDsn(const std::string& queue, spool::SpoolId original,
                           const spool::Envelope& env, std::vector<FailedRecipient> failed,
                           std::int64_t now_unix,
                           std::function<void(const DsnCommitResult&)> then) {
  if (env.mail_from.empty()) {
    then(DsnCommitResult{});
    return;
  }
  delivery::DsnInput input;
  input.reporting_mta = reporting_mta_;
  input.postmaster = postmaster_;
  input.queue_id = env.id;
  input.original_envelope_id = env.env_id;
  input.original_sender = env.mail_from;
  input.arrival_time = env.time_queued;
  for (FailedRecipient& f : failed) input.recipients.push_back(std::move(f.report));
  std::string data;
  if (spool_.ReadData(original, data)) input.original_headers = HeaderSection(data);
  spool::SpoolMessage dsn;
  dsn.envelope.id = spool::NewQueueId();
  dsn.envelope.time_queued = now_unix;
  dsn.envelope.mail_from = "";
  dsn.envelope.recipients = {env.mail_from};
  dsn.envelope.vmta = env.vmta;
  dsn.envelope.source_helo = reporting_mta_;
  dsn.data = delivery::BuildDsn(input, now_unix);
  auto result = std::make_shared<DsnCommitResult>();
  result->envelope = dsn.envelope;
  result->size = dsn.data.size();
  // Until the DSN is durable the failed recipients stay pending (the caller's `then` decides).
  spool_.Commit(std::move(dsn), [this, queue, original_id = env.id, result, then = std::move(then)](
                                    spool::CommitStatus status, spool::SpoolId dsn_id) mutable {
    post_([queue, original_id, result, status, dsn_id, then = std::move(then)] {
      if (status == spool::CommitStatus::kOk) {
        result->status = DsnCommit::kCommitted;
        result->id = dsn_id;
      } else {
        result->status = DsnCommit::kFailed;
        OUTPOST_LOG(kError, "queue")
            << queue << " " << original_id << ": cannot commit the DSN ("
            << spool::CommitStatusName(status)
            << "); the failed recipients stay in the spool and are retried after a restart";
      }
      then(*result);
    });
  });
}

std::optional<MonoTime> Completion::NextCheck() const {
  if (held_.empty()) return std::nullopt;
  return next_check_;
}

}  // namespace outpost::queue
