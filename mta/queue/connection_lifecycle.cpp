// The scheduler's connection lifecycle and transactions (QueueManager::Impl methods; the state is
// in queue_manager_impl.hpp).
//
// A connection: StartConnect() (counted against max-smtp-out and its source's limit from here) ->
// OnConnected() (idle, or a failure: a tq record and a hold of the queue, or the domain's
// recipients bounced) -> StartSend()/OnSent() for each transaction -> CloseConnection() (QUIT in
// progress, still counted) -> ForgetConnection() when the Deliverer reports the socket closed.
// A transaction: StartSend() reads the envelope and the bytes back from the spool and calls
// Deliverer::Send; OnSent() turns each recipient's reply into its Outcome (d, b or t), writes
// them, flushes once, then finalizes the delivered ones and sends one DSN for the failed ones
// (completion.hpp), and puts the deferred ones in the scheduled tier.
//
// Deliverer callbacks never act directly: they Defer() the work to the next RunDue() round.
//
// Thread-safety: the scheduler's thread only (queue_manager.hpp).
#include <algorithm>
#include <utility>

#include "common/invariant.hpp"
#include "common/verp.hpp"
#include "mta/log/log.hpp"
#include "mta/queue/queue_manager_impl.hpp"

namespace outpost::queue {

namespace {

delivery::BounceCategory CategoryOfDeferral(const delivery::ReplyClassifier& classifier,
                                            const delivery::Reply& reply) {
  return reply.code == 0 ? delivery::BounceCategory::kBadConnection
                         : classifier.BounceCategory(reply);
}

// What recipient i's reply means under the queue's policy: a reply's class, except that a body
// transfer cut off may bounce (bounce-upon-transfer-failure) and an unanswered final dot may count
// as delivered (assume-delivery-upon-data-termination-timeout).
OutcomeKind KindOf(const EffectiveDomainPolicy& policy, const delivery::TransactionResult& result,
                   const delivery::Reply& reply) {
  if (reply.Positive()) return OutcomeKind::kDelivered;
  if (reply.Permanent()) return OutcomeKind::kBounced;
  if (reply.code != 0) return OutcomeKind::kDeferred;
  if (result.final_reply_timed_out && policy.assume_delivery_upon_data_termination_timeout) {
    return OutcomeKind::kDelivered;
  }
  if (result.transfer_failed && policy.bounce_upon_transfer_failure) return OutcomeKind::kBounced;
  return OutcomeKind::kDeferred;
}

// A bounce's category: the classifier's, except a 553 to RCPT without an enhanced code under
// smtp-553-means-invalid-mailbox (an invalid mailbox, 5.1.1) and a transfer cut off (no reply).
delivery::BounceCategory BouncedCategory(const delivery::ReplyClassifier& classifier,
                                         const EffectiveDomainPolicy& policy,
                                         const delivery::TransactionResult& result, std::size_t i,
                                         const delivery::Reply& reply) {
  if (reply.code == 0) return delivery::BounceCategory::kBadConnection;
  const bool rcpt_553 = i < result.rcpt_replies.size() && result.rcpt_replies[i].code == 553 &&
                        result.rcpt_replies[i].enhanced.empty();
  if (rcpt_553 && policy.smtp_553_means_invalid_mailbox) {
    return delivery::BounceCategory::kBadMailbox;
  }
  return classifier.BounceCategory(reply);
}

// The DSN report of a recipient bounced without a reply (bounce-upon-transfer-failure).
delivery::DsnRecipient TransferFailedReport(const std::string& address,
                                            const delivery::Reply& reply,
                                            const std::string& remote_mta) {
  const LastDeferral why = DeferralOf(reply, remote_mta);
  delivery::DsnRecipient d;
  d.address = address;
  d.status = "5.4.2";
  d.diagnostic = why.diagnostic;
  d.remote_mta = why.remote_mta;
  return d;
}

}  // namespace

void QueueManager::Impl::StartConnect(Queue& q, std::uint32_t source) {
  Connection c;
  c.serial = next_serial++;
  c.domain = q.mx_domain;
  c.source = source;
  c.state = ConnState::kConnecting;
  ++q.sources[source].connections;
  caps.Opened(q.key.vmta);
  q.connections.push_back(c);
  NoteAttempt(q, clock.Now().mono);
  ConnectRequest request;
  request.queue = q.name;
  request.domain = q.mx_domain;
  request.route = q.policy.route;
  request.port = q.policy.default_smtp_port;
  request.source_address = q.sources[source].address;
  request.ehlo_name = q.sources[source].ehlo;
  request.use_starttls = q.policy.use_starttls;
  request.require_starttls = q.policy.require_starttls;
  request.timeouts = q.policy.client_timeouts;
  request.bounce_upon_no_mx = q.policy.bounce_upon_no_mx;
  request.bounce_upon_5xx_greeting = q.policy.bounce_upon_5xx_greeting;
  request.avoid_addresses = AvoidedMx(q, clock.Now().mono);
  request.smtp_hosts = q.policy.smtp_hosts;
  request.max_addresses = q.policy.mx_connection_attempts;
  request.ignore_8bitmime = q.policy.ignore_8bitmime;
  request.discard = q.policy.discard;
  const std::uint32_t queue_index = q.index;
  const std::uint64_t serial = c.serial;
  deliverer.Connect(request, [this, queue_index, serial](ConnectOutcome outcome) {
    Defer([this, queue_index, serial, outcome = std::move(outcome)]() mutable {
      OnConnected(*queues[queue_index], serial, std::move(outcome));
    });
  });
}

Connection* QueueManager::Impl::FindConnection(Queue& q, std::uint64_t serial, std::size_t* index) {
  for (std::size_t i = 0; i < q.connections.size(); ++i) {
    if (q.connections[i].serial == serial) {
      if (index) *index = i;
      return &q.connections[i];
    }
  }
  return nullptr;
}

void QueueManager::Impl::OnConnected(Queue& q, std::uint64_t serial, ConnectOutcome outcome) {
  std::size_t index = 0;
  Connection* c = FindConnection(q, serial, &index);
  const Instant now = clock.Now();
  if (c == nullptr) {  // forgotten while opening (CloseConnection); nothing to do but close
    if (outcome.status == ConnectStatus::kOk) deliverer.Close(outcome.id, [] {});
    return;
  }
  NoteAttempt(q, now.mono);
  if (outcome.status == ConnectStatus::kOk) {
    c->id = outcome.id;
    c->state = ConnState::kIdle;
    c->idle_since = now.mono;
    c->info = std::move(outcome);
    if (stopped) CloseConnection(q, index);
    MarkDirty(q);
    return;
  }
  const std::string failed_domain = c->domain;
  ForgetConnection(q, index);
  OnConnectFailed(q, failed_domain, outcome, now);
  MarkDirty(q);
}

// A permanent failure (the domain cannot receive mail) bounces that domain's recipients; a
// temporary one writes a tq record and, when no other connection of the queue works, holds the
// queue for a retry interval (and bounces what expired meanwhile).
void QueueManager::Impl::OnConnectFailed(Queue& q, const std::string& failed_domain,
                                         const ConnectOutcome& outcome, const Instant& now) {
  ++q.stats.connect_failures;
  q.stats.last_error = outcome.error;
  if (outcome.status == ConnectStatus::kPermFail) {
    OUTPOST_LOG(kWarning, "queue")
        << q.name << ": " << outcome.error << "; bouncing " << failed_domain << " recipients";
    BounceDomain(q, failed_domain, outcome, now);
    return;
  }
  Outcome failure;
  failure.kind = OutcomeKind::kConnectionFailed;
  failure.time_logged = now.unix_seconds();
  failure.queue = q.name;
  failure.vmta = q.key.vmta;
  failure.reply = outcome.reply;
  failure.error = outcome.error;
  failure.category = outcome.reply.code ? classifier->BounceCategory(outcome.reply)
                                        : delivery::BounceCategory::kNoAnswerFromHost;
  failure.remote_mta = outcome.remote_mta;
  failure.local_address = outcome.local_address;
  failure.remote_address = outcome.remote_address;
  completion.Write(failure);
  completion.Flush();
  q.last_deferral = outcome.reply.code != 0 ? DeferralOf(outcome.reply, outcome.remote_mta)
                                            : ConnectFailureOf(outcome.error, outcome.remote_mta);
  if (outcome.reply.code != 0) CheckPatterns(q, {outcome.reply}, now.mono);
  bool working = false;
  for (const Connection& other : q.connections) {
    working |= other.state == ConnState::kIdle || other.state == ConnState::kBusy;
  }
  if (working) return;
  q.hold_until = now.mono + RetryDelay(1, q.policy, q.mode);
  OUTPOST_LOG(kInfo, "queue") << q.name << ": connection failed (" << outcome.error
                              << "); retrying in "
                              << FormatDuration(RetryDelay(1, q.policy, q.mode));
  SweepExpired(q, now);
}

void QueueManager::Impl::CheckPatterns(Queue& q, const std::vector<delivery::Reply>& replies,
                                       MonoTime now) {
  if (q.policy.smtp_pattern_list.empty()) return;
  for (const delivery::Reply& reply : replies) {
    config::PatternMode mode = classifier->MatchPatterns(q.policy.smtp_pattern_list, reply);
    if (mode == config::PatternMode::kBackoff) {
      ChangeMode(q, QueueMode::kBackoff, now, "reply matched: " + reply.Full());
      return;
    }
    if (mode == config::PatternMode::kNormal) {
      ChangeMode(q, QueueMode::kNormal, now, "reply matched: " + reply.Full());
      return;
    }
  }
}

void QueueManager::Impl::StartSend(Queue& q, Connection& c, std::vector<BatchEntry> batch) {
  auto flight = std::make_shared<InFlight>();
  flight->queue = q.index;
  flight->deletions = q.deletions;
  flight->connection = c.serial;
  const std::uint32_t m = batch.front().msg;
  flight->job_deletions = jobs.Deletions(messages[m].job);
  auto rcpts_of = [&batch] {
    std::vector<std::uint32_t> rcpts;
    for (const BatchEntry& e : batch) rcpts.push_back(e.rcpt);
    return rcpts;
  };
  auto data = std::make_shared<std::string>();
  if (!spool.ReadEnvelope(messages[m].id, flight->envelope) ||
      !spool.ReadData(messages[m].id, *data)) {
    DropUnreadable(q, m, rcpts_of());
    return;
  }
  const std::size_t known = flight->envelope.recipients.size();
  if (!std::all_of(batch.begin(), batch.end(),
                   [&](const BatchEntry& e) { return e.rcpt < known; })) {
    // Never `RCPT TO:<>` for an index the envelope does not have.
    std::vector<std::uint32_t> rcpts = rcpts_of();
    if (!KeepKnownRecipients(q, m, flight->envelope, rcpts)) return;
    std::erase_if(batch, [&](const BatchEntry& e) { return e.rcpt >= known; });
  }
  flight->size = data->size();
  flight->entries = std::move(batch);
  BatchRequest request;
  for (const BatchEntry& e : flight->entries) {
    request.recipients.push_back(flight->envelope.recipients[e.rcpt]);
  }
  // VERP batches hold one recipient (FormBatch), whose address the sender encodes.
  request.mail_from = flight->envelope.verp_delimiters.empty() || request.recipients.empty()
                          ? flight->envelope.mail_from
                          : VerpSender(flight->envelope.mail_from, request.recipients.front(),
                                       flight->envelope.verp_delimiters);
  request.data = std::move(data);
  request.body_8bit = flight->envelope.body_8bit;
  request.env_id = flight->envelope.env_id;
  active += flight->entries.size();
  c.state = ConnState::kBusy;
  NoteAttempt(q, clock.Now().mono);
  deliverer.Send(c.id, std::move(request), [this, flight](BatchOutcome outcome) {
    Defer([this, flight, outcome = std::move(outcome)]() mutable {
      OnSent(*flight, std::move(outcome));
    });
  });
}

// A transaction ended: its recipients leave the active set, the replies are matched against the
// queue's patterns (before rescheduling: backoff-retry-after applies), become outcomes, are
// written and flushed, and the connection is reused or closed.
void QueueManager::Impl::OnSent(InFlight& flight, BatchOutcome outcome) {
  Queue& q = *queues[flight.queue];
  const Instant now = clock.Now();
  LeaveActiveSet(flight.entries.size());
  NoteAttempt(q, now.mono);
  std::size_t conn_index = 0;
  Connection* c = FindConnection(q, flight.connection, &conn_index);
  // A busy connection leaves its queue only through OnSent() and then CloseConnection().
  const bool known = OUTPOST_INVARIANT(c != nullptr, "a transaction's connection is known");
  static const ConnectOutcome kNoInfo;
  const ConnectOutcome& info = known ? c->info : kNoInfo;
  std::vector<delivery::Reply> replies;
  std::vector<delivery::Reply> negative;
  replies.reserve(flight.entries.size());
  for (std::size_t i = 0; i < flight.entries.size(); ++i) {
    replies.push_back(outcome.result.OutcomeFor(i));
    if (!replies.back().Positive() && replies.back().code != 0) negative.push_back(replies.back());
  }
  CheckPatterns(q, negative, now.mono);
  if (known) c->errors += static_cast<std::uint32_t>(negative.size());
  AttemptResult result = RecordReplies(q, flight, replies, outcome.result, info, now);
  const bool delivered = result.delivered;
  FinishAttempt(q, flight, std::move(result), now);
  if (delivered && q.mode == QueueMode::kBackoff && q.policy.backoff_to_normal_after_delivery) {
    ChangeMode(q, QueueMode::kNormal, now.mono, "backoff-to-normal-after-delivery");
  }
  if (known) ReleaseConnection(q, conn_index, outcome, now.mono);
  MarkDirty(q);  // capacity freed in the active set: FeedActiveSet() gives the turns
}

// Writes each recipient's outcome: 2xx delivered, 5xx bounced (into the DSN), else deferred
// (rescheduled, or expired into the DSN; deleted when its queue was deleted meanwhile).
AttemptResult QueueManager::Impl::RecordReplies(Queue& q, const InFlight& flight,
                                                const std::vector<delivery::Reply>& replies,
                                                const delivery::TransactionResult& sent,
                                                const ConnectOutcome& info, const Instant& now) {
  const std::int64_t now_unix = now.unix_seconds();
  const std::uint32_t m = flight.entries.front().msg;
  const bool retry_at_once = MxSaid421(q, sent, info, now.mono);
  AttemptResult result;
  for (std::size_t i = 0; i < flight.entries.size(); ++i) {
    const BatchEntry& e = flight.entries[i];
    const delivery::Reply& reply = replies[i];
    const std::string& address = flight.envelope.recipients[e.rcpt];  // StartSend checked
    const std::uint8_t attempts = static_cast<std::uint8_t>(std::min<int>(e.attempts + 1, 255));
    const OutcomeKind kind = KindOf(q.policy, sent, reply);
    Outcome o = BaseOutcome(kind, q, flight.envelope, address, now_unix, flight.size);
    o.spool_id = messages[m].id;
    o.attempts = attempts;
    o.reply = reply;
    FillConnection(o, info);
    if (kind == OutcomeKind::kDelivered) {
      o.category = delivery::BounceCategory::kSuccess;
      ++q.stats.delivered;
      result.delivered = true;
      result.finals.push_back(e.rcpt);
    } else if (kind == OutcomeKind::kBounced) {
      o.category = BouncedCategory(*classifier, q.policy, sent, i, reply);
      ++q.stats.bounced;
      result.failed.push_back(FailedRecipient{
          e.rcpt, reply.code != 0 ? RefusedReport(address, reply, info.remote_mta)
                                  : TransferFailedReport(address, reply, info.remote_mta)});
    } else if (DeletedInFlight(q, flight, m)) {
      // Deferred, but its queue (or job) was deleted while it was in flight: deleted now, as
      // the queued ones were (one record, no retry).
      o.kind = OutcomeKind::kDeleted;
      o.category = delivery::BounceCategory::kOther;
      ++q.stats.bounced;
      result.finals.push_back(e.rcpt);
    } else {
      o.category = CategoryOfDeferral(*classifier, reply);
      ++q.stats.deferred;
      q.stats.last_error = reply.code == 0 ? "connection lost" : reply.Full();
      q.last_deferral = DeferralOf(reply, info.remote_mta);
      if (Expired(q, m, now_unix)) {
        result.expired.push_back(e.rcpt);
        result.expired_why.push_back(q.last_deferral);
      } else {
        Reschedule(q, m, e.rcpt, attempts, now, retry_at_once && reply.code == 421);
      }
    }
    completion.Write(o);
  }
  return result;
}

bool QueueManager::Impl::MxSaid421(Queue& q, const delivery::TransactionResult& result,
                                   const ConnectOutcome& info, MonoTime now) {
  if (!q.policy.smtp_421_means_mx_unavailable || info.remote_address.empty()) return false;
  bool said = result.mail_reply.code == 421 || result.data_reply.code == 421;
  for (const delivery::Reply& r : result.rcpt_replies) said = said || r.code == 421;
  if (!said) return false;
  const MonoTime until = now + RetryDelay(1, q.policy, q.mode);
  std::erase_if(q.unavailable_mx, [&](const auto& e) { return e.first == info.remote_address; });
  q.unavailable_mx.emplace_back(info.remote_address, until);
  OUTPOST_LOG(kInfo, "queue") << q.name << ": " << info.remote_mta
                              << " said 421; trying the other MX hosts first";
  return true;
}

std::vector<std::string> QueueManager::Impl::AvoidedMx(Queue& q, MonoTime now) {
  std::erase_if(q.unavailable_mx, [&](const auto& e) { return e.second <= now; });
  std::vector<std::string> out;
  for (const auto& [address, until] : q.unavailable_mx) out.push_back(address);
  return out;
}

// A deferred recipient goes to the scheduled tier after its retry delay (`at_once`: now), never
// past expiry (it is then bounced when it comes due).
void QueueManager::Impl::Reschedule(Queue& q, std::uint32_t m, std::uint32_t rcpt,
                                    std::uint8_t attempts, const Instant& now, bool at_once) {
  MonoTime due = now.mono;
  if (!at_once) due += RetryDelay(attempts, q.policy, q.mode);
  const std::int64_t left = ExpiresAt(messages[m].time_queued, q.policy) - now.unix_seconds();
  due = std::min(due, now.mono + std::chrono::seconds(std::max<std::int64_t>(left, 0)));
  Hold(q, RetryEntry{DueCeil(due), m, rcpt, attempts});
}

// The expired recipients' records, one flush for the transaction, then the final ones leave the
// spool and the failed ones get one DSN (per message and attempt).
void QueueManager::Impl::FinishAttempt(Queue& q, const InFlight& flight, AttemptResult result,
                                       const Instant& now) {
  const std::uint32_t m = flight.entries.front().msg;
  const std::int64_t now_unix = now.unix_seconds();
  if (!result.expired.empty()) {
    WriteExpired(q, m, result.expired, flight.envelope, now_unix, result.failed,
                 &result.expired_why);
  }
  completion.Flush();  // once per transaction, before any recipient leaves the spool
  if (!result.finals.empty()) Finalize(q, m, result.finals, true);
  if (!result.failed.empty()) {
    BounceWithDsn(q, m, std::move(result.failed), flight.envelope, now_unix);
  }
}

// After a transaction: the connection is closed when it is no longer usable, has carried
// max-msg-per-connection messages, or the scheduler stops; else it is idle again.
void QueueManager::Impl::ReleaseConnection(Queue& q, std::size_t index, const BatchOutcome& outcome,
                                           MonoTime now) {
  Connection& c = q.connections[index];
  ++c.messages;
  const int limit = MaxMsgPerConnection(q);
  const int max_errors = q.policy.max_errors_per_connection;
  if (!outcome.connection_usable || outcome.result.connection_lost ||
      (limit > 0 && c.messages >= static_cast<std::uint32_t>(limit)) ||
      (max_errors > 0 && c.errors >= static_cast<std::uint32_t>(max_errors)) || stopped) {
    CloseConnection(q, index);
  } else {
    c.state = ConnState::kIdle;
    c.idle_since = now;
  }
}

// Starts closing connection `i`. It keeps its place in q.connections (and its source's count)
// until the Deliverer says the socket is closed, so max-smtp-out and source-ip-max-smtp-out
// cover QUIT and close in progress. A connection still opening is forgotten at once
// (OnConnected closes it when it arrives).
void QueueManager::Impl::CloseConnection(Queue& q, std::size_t i) {
  Connection& c = q.connections[i];
  if (c.state == ConnState::kClosing) return;
  if (c.state == ConnState::kConnecting) {
    ForgetConnection(q, i);
    return;
  }
  c.state = ConnState::kClosing;
  const std::uint32_t queue_index = q.index;
  const std::uint64_t serial = c.serial;
  deliverer.Close(c.id, [this, queue_index, serial] {
    Defer([this, queue_index, serial] {
      Queue& closed = *queues[queue_index];
      std::size_t index = 0;
      // A closing connection is forgotten here and nowhere else.
      if (OUTPOST_INVARIANT(FindConnection(closed, serial, &index) != nullptr,
                            "a closing connection is known until it is closed")) {
        ForgetConnection(closed, index);
      }
      MarkDirty(closed);
    });
  });
}

void QueueManager::Impl::ForgetConnection(Queue& q, std::size_t i) {
  --q.sources[q.connections[i].source].connections;
  for (std::uint32_t waiting : caps.Closed(q.key.vmta)) MarkDirty(*queues[waiting]);
  q.connections[i] = std::move(q.connections.back());
  q.connections.pop_back();
}

}  // namespace outpost::queue
