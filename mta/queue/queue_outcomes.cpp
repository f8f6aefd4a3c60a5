// The scheduler's final outcomes outside a transaction's replies (QueueManager::Impl methods; the
// state is in queue_manager_impl.hpp): expiry (b, message-expired), a domain that cannot receive
// mail (b, bad-domain), an operator's delete (b, no DSN), an unreadable spool entry (no record:
// left in the spool for recovery); and the two steps every final outcome ends with: Finalize()
// (forget the recipients, mark them done through Completion) and BounceWithDsn() (one DSN for the
// recipients of a message that failed for good in one attempt, Completion::CommitDsn, then
// Finalize). The order — write -> flush -> [DSN durable] -> mark done — is Completion's
// (completion.hpp); these functions only decide what is written and who is final.
//
// Thread-safety: the scheduler's thread only (queue_manager.hpp).
#include <algorithm>
#include <utility>

#include "common/invariant.hpp"
#include "mta/log/log.hpp"
#include "mta/queue/queue_manager_impl.hpp"
#include "mta/queue/queue_name.hpp"

namespace outpost::queue {

void QueueManager::Impl::Finalize(Queue& q, std::uint32_t m,
                                  const std::vector<std::uint32_t>& rcpts, bool mark_spool) {
  MessageRecord& rec = messages[m];
  if (!OUTPOST_INVARIANT(rec.remaining >= rcpts.size(),
                         "a message has as many pending recipients as are finalized")) {
    return;  // the record is not ours to count down (freed or reused): leave it alone
  }
  // Not marked at all (mark_spool false): left in the spool for recovery or a restart.
  std::optional<Completion::Marks> marks;
  if (mark_spool) marks = completion.Begin(q.name);
  for (std::uint32_t r : rcpts) {
    if (rec.remaining > 1) {
      if (marks) completion.Mark(*marks, rec.id, r);
    }
    --rec.remaining;
    --queued;
    --q.stats.recipients;
  }
  // Per-queue message count.
  if (rec.flags & kSingleQueue) {
    if (rec.remaining == 0) --q.stats.messages;
  } else {
    auto it = pair_counts.find((static_cast<std::uint64_t>(m) << 32) | q.index);
    if (it != pair_counts.end()) {
      it->second -= std::min<std::uint32_t>(it->second, rcpts.size());
      if (it->second == 0) {
        pair_counts.erase(it);
        --q.stats.messages;
      }
    }
  }
  jobs.Finished(rec.job, static_cast<std::uint32_t>(rcpts.size()), rec.remaining == 0);
  if (rec.remaining == 0) {
    if (marks) completion.Mark(*marks, rec.id, Completion::kWholeMessage);
    FreeMessage(m);
  }
}

Outcome QueueManager::Impl::BaseOutcome(OutcomeKind kind, const Queue& q,
                                        const spool::Envelope& env, const std::string& rcpt,
                                        std::int64_t now_unix, std::uint64_t size) const {
  Outcome o;
  o.kind = kind;
  o.time_logged = now_unix;
  o.queue = q.name;
  o.vmta = q.key.vmta;
  if (!env.vmta.empty() && config->FindVirtualMtaPool(env.vmta) != nullptr) {
    o.vmta_pool = env.vmta;
  }
  o.queue_id = env.id;
  o.mail_from = env.mail_from;
  o.recipient = rcpt;
  o.time_queued = env.time_queued;
  o.size = size;
  o.job_id = env.job_id;
  o.env_id = env.env_id;
  o.source_ip = env.source_ip;
  o.source_helo = env.source_helo;
  return o;
}

void QueueManager::Impl::FillConnection(Outcome& o, const ConnectOutcome& info) {
  o.remote_mta = info.remote_mta;
  o.local_address = info.local_address;
  o.remote_address = info.remote_address;
  o.esmtp_available = info.esmtp_available;
}

bool QueueManager::Impl::KeepKnownRecipients(Queue& q, std::uint32_t m, const spool::Envelope& env,
                                             std::vector<std::uint32_t>& rcpts) {
  std::vector<std::uint32_t> unknown;
  std::erase_if(rcpts, [&](std::uint32_t r) {
    if (OUTPOST_INVARIANT(r < env.recipients.size(), "a recipient index is in its envelope")) {
      return false;
    }
    unknown.push_back(r);
    return true;
  });
  if (!unknown.empty()) DropUnreadable(q, m, unknown);
  return !rcpts.empty();
}

// Writes the b records of `rcpts` of message `m` expiring now (bounceCat message-expired) and
// adds them to `failed` for the attempt's DSN, which says why they were deferred: `why[i]` for
// rcpts[i] when given (deferred in this attempt), else the queue's last deferral. The caller
// flushes. `rcpts` are in `env` (checked by the caller).
void QueueManager::Impl::WriteExpired(Queue& q, std::uint32_t m,
                                      const std::vector<std::uint32_t>& rcpts,
                                      const spool::Envelope& env, std::int64_t now_unix,
                                      std::vector<FailedRecipient>& failed,
                                      const std::vector<LastDeferral>* why) {
  const std::string after = FormatDuration(q.policy.bounce_after);
  for (std::size_t i = 0; i < rcpts.size(); ++i) {
    const std::uint32_t r = rcpts[i];
    const std::string& address = env.recipients[r];
    Outcome o = BaseOutcome(OutcomeKind::kExpired, q, env, address, now_unix, messages[m].size);
    o.spool_id = messages[m].id;
    o.expired_after = after;
    o.category = delivery::BounceCategory::kMessageExpired;
    completion.Write(o);
    ++q.stats.bounced;
    ++q.stats.expired;
    const LastDeferral& last = why != nullptr && i < why->size() ? (*why)[i] : q.last_deferral;
    failed.push_back(FailedRecipient{r, ExpiredReport(address, last, after)});
  }
  OUTPOST_LOG(kInfo, "queue") << q.name << " " << env.id << ": " << rcpts.size()
                              << " recipient(s) expired";
}

// Bounces `rcpts` of message `m` as expired: b records, flush, then the DSN (BounceWithDsn).
void QueueManager::Impl::Expire(Queue& q, std::uint32_t m, std::vector<std::uint32_t> rcpts,
                                std::int64_t now_unix) {
  spool::Envelope env;
  if (!spool.ReadEnvelope(messages[m].id, env)) {
    DropUnreadable(q, m, rcpts);
    return;
  }
  if (!KeepKnownRecipients(q, m, env, rcpts)) return;
  std::vector<FailedRecipient> failed;
  WriteExpired(q, m, rcpts, env, now_unix, failed);
  completion.Flush();
  BounceWithDsn(q, m, std::move(failed), env, now_unix);
}

// The final step for recipients of message `m` that failed for good in one attempt (a 5xx, a
// permanent DNS failure, expiry), whose b records are written and flushed: the DSN commit
// (Completion::CommitDsn); only a committed DSN (or none needed: the null sender) lets them leave
// the spool, and the DSN then enters the queues like any message.
void QueueManager::Impl::BounceWithDsn(Queue& q, std::uint32_t m,
                                       std::vector<FailedRecipient> failed,
                                       const spool::Envelope& env, std::int64_t now_unix) {
  std::vector<std::uint32_t> rcpts;
  rcpts.reserve(failed.size());
  for (const FailedRecipient& f : failed) rcpts.push_back(f.rcpt);
  // deliver-local-dsn no for the sender's domain: no DSN, the recipients leave as with one.
  const std::string sender_domain = RecipientDomain(env.mail_from);
  if (!env.mail_from.empty() &&
      !MergeDomainPolicy(*config, sender_domain, env.vmta).deliver_local_dsn) {
    OUTPOST_LOG(kInfo, "queue") << q.name << " " << env.id
                                << ": DSN not sent (deliver-local-dsn no for " << sender_domain
                                << ")";
    Finalize(q, m, rcpts, true);
    return;
  }
  const std::uint32_t queue_index = q.index;
  // Until the DSN is durable the failed recipients stay pending (message record alive).
  completion.CommitDsn(
      q.name, messages[m].id, env, std::move(failed), now_unix,
      [this, queue_index, m, rcpts = std::move(rcpts)](const DsnCommitResult& dsn) {
        Queue& bounced = *queues[queue_index];
        Finalize(bounced, m, rcpts, dsn.status != DsnCommit::kFailed);
        if (dsn.status == DsnCommit::kCommitted) {
          ++dsns;
          Intake(dsn.id, dsn.envelope, dsn.size, nullptr, false);
        }
        if (dsn.status != DsnCommit::kNotNeeded) Notify();
      });
}

// Deletes every queued (fresh, scheduled or held) recipient of `q`, or those of `job`: b records,
// one flush, then the spool marks. Recipients in a transaction are not touched here (see
// Queue::deletions and JobTable::Deletions).
std::uint64_t QueueManager::Impl::DeleteQueued(Queue& q, const Instant& now,
                                               std::optional<std::uint32_t> job) {
  std::vector<std::pair<std::uint32_t, std::uint32_t>> all = TakeQueued(q, job);  // (msg, rcpt)
  const std::string of_job = job ? " of job " + jobs.At(*job).id : std::string();
  if (!job) ++q.deletions;
  std::sort(all.begin(), all.end());
  std::vector<std::pair<std::uint32_t, std::vector<std::uint32_t>>> groups;
  std::uint64_t deleted = 0;
  for (std::size_t i = 0; i < all.size();) {
    const std::uint32_t m = all[i].first;
    std::vector<std::uint32_t> rcpts;
    for (; i < all.size() && all[i].first == m; ++i) rcpts.push_back(all[i].second);
    spool::Envelope env;
    if (!spool.ReadEnvelope(messages[m].id, env)) {
      DropUnreadable(q, m, rcpts);
      continue;
    }
    if (!KeepKnownRecipients(q, m, env, rcpts)) continue;
    for (std::uint32_t r : rcpts) {
      // An operator's delete (PowerMTA's `delete --queue`): no DSN is sent.
      Outcome o = BaseOutcome(OutcomeKind::kDeleted, q, env, env.recipients[r], now.unix_seconds(),
                              messages[m].size);
      o.spool_id = messages[m].id;
      o.category = delivery::BounceCategory::kOther;
      completion.Write(o);
      ++q.stats.bounced;
    }
    deleted += rcpts.size();
    groups.emplace_back(m, std::move(rcpts));
  }
  completion.Flush();  // before any recipient leaves the spool
  for (auto& [m, rcpts] : groups) Finalize(q, m, rcpts, true);
  if (deleted > 0 || !job) {
    OUTPOST_LOG(kInfo, "queue") << q.name << ": " << deleted << " recipient(s)" << of_job
                                << " deleted by operator";
  }
  MarkDirty(q);
  return deleted;
}

void QueueManager::Impl::DropUnreadable(Queue& q, std::uint32_t m,
                                        const std::vector<std::uint32_t>& rcpts) {
  OUTPOST_LOG(kError, "queue") << q.name << ": spool entry " << messages[m].id.segment << ":"
                               << messages[m].id.offset << " unreadable; " << rcpts.size()
                               << " recipient(s) left in the spool for recovery";
  Finalize(q, m, rcpts, false);
}

// Bounces the queued recipients of `domain` (it cannot receive mail: NXDOMAIN, null MX, no MX
// under bounce-upon-no-mx, a 5xx greeting under bounce-upon-5xx-greeting). In a
// rolled-up queue the other domains' recipients stay; if `domain` was the queue's MX lookup
// target, one of theirs becomes it. Envelopes are read from the spool to learn the domains.
void QueueManager::Impl::BounceDomain(Queue& q, const std::string& domain,
                                      const ConnectOutcome& outcome, const Instant& now) {
  std::unordered_map<std::uint32_t, spool::Envelope> envelopes;
  auto envelope_of = [&](std::uint32_t m) -> const spool::Envelope* {
    auto it = envelopes.find(m);
    if (it != envelopes.end()) return &it->second;
    spool::Envelope env;
    if (!spool.ReadEnvelope(messages[m].id, env)) return nullptr;
    return &(envelopes[m] = std::move(env));
  };
  std::string other_domain;
  // True for the recipients taken out of the queue here: `domain`'s, and those whose envelope or
  // index cannot be read (left in the spool below).
  auto bounces = [&](std::uint32_t m, std::uint32_t r) {
    const spool::Envelope* env = envelope_of(m);
    if (env == nullptr || r >= env->recipients.size()) return true;
    std::string d = RecipientDomain(env->recipients[r]);
    if (d.empty()) d = options.host_name;
    if (d == domain) return true;
    if (other_domain.empty()) other_domain = d;
    return false;
  };
  std::vector<std::pair<std::uint32_t, std::uint32_t>> all;
  std::deque<FreshEntry> keep_fresh;
  for (const FreshEntry& e : q.fresh) {
    if (bounces(e.msg, e.rcpt)) {
      all.emplace_back(e.msg, e.rcpt);
    } else {
      keep_fresh.push_back(e);
    }
  }
  std::vector<RetryEntry> keep_retry;
  for (const RetryEntry& e : q.retry) {
    if (bounces(e.msg, e.rcpt)) {
      all.emplace_back(e.msg, e.rcpt);
    } else {
      keep_retry.push_back(e);
    }
  }
  q.fresh.swap(keep_fresh);
  q.retry.swap(keep_retry);
  std::make_heap(q.retry.begin(), q.retry.end(), RetryLater());
  if (!other_domain.empty() && q.mx_domain == domain) {
    OUTPOST_LOG(kInfo, "queue") << q.name << ": MX lookups now for " << other_domain;
    q.mx_domain = other_domain;
  }
  std::sort(all.begin(), all.end());
  std::vector<std::pair<std::uint32_t, std::vector<FailedRecipient>>> groups;
  for (std::size_t i = 0; i < all.size();) {
    std::uint32_t m = all[i].first;
    std::vector<std::uint32_t> rcpts;
    for (; i < all.size() && all[i].first == m; ++i) rcpts.push_back(all[i].second);
    const spool::Envelope* found = envelope_of(m);
    if (found == nullptr) {
      DropUnreadable(q, m, rcpts);
      continue;
    }
    const spool::Envelope& env = *found;
    if (!KeepKnownRecipients(q, m, env, rcpts)) continue;
    std::vector<FailedRecipient> failed;
    for (std::uint32_t r : rcpts) {
      const std::string& address = env.recipients[r];
      Outcome o = BaseOutcome(OutcomeKind::kDomainFailed, q, env, address, now.unix_seconds(),
                              messages[m].size);
      o.spool_id = messages[m].id;
      o.error = outcome.error;
      // A refusal at the greeting (bounce-upon-5xx-greeting) is classified like any reply.
      o.reply = outcome.reply;
      FillConnection(o, outcome);
      o.category = outcome.reply.code != 0 ? classifier->BounceCategory(outcome.reply)
                                           : delivery::BounceCategory::kBadDomain;
      completion.Write(o);
      ++q.stats.bounced;
      failed.push_back(FailedRecipient{
          r, outcome.reply.code != 0 ? RefusedReport(address, outcome.reply, outcome.remote_mta)
                                     : DomainFailedReport(address, outcome.error)});
    }
    groups.emplace_back(m, std::move(failed));
  }
  completion.Flush();
  for (auto& [m, failed] : groups) {
    BounceWithDsn(q, m, std::move(failed), envelopes[m], now.unix_seconds());
  }
}

}  // namespace outpost::queue
