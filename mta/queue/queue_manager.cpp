// The scheduler proper: intake, queues and their policy, shaping (Pump), batching (FormBatch),
// expiry sweeps, backoff mode, the active set's weighted fair share, the RunDue() loop and the
// public API. The connection lifecycle is in connection_lifecycle.cpp, the final outcomes outside
// a transaction's replies in queue_outcomes.cpp, mx-rollup decisions in mx_rollup.cpp, the commit
// order in completion.cpp (see queue_manager_impl.hpp for the split, queue_manager.hpp for what the
// scheduler does).
//
// Thread-safety: the scheduler's thread only (queue_manager.hpp).
#include "mta/queue/queue_manager.hpp"

#include <algorithm>
#include <utility>

#include "common/invariant.hpp"
#include "mta/log/log.hpp"
#include "mta/queue/queue_manager_impl.hpp"

namespace outpost::queue {

QueueManager::Impl::Impl(std::shared_ptr<const config::Config> config_in,
                         QueueManagerOptions options_in, const Clock& clock_in,
                         spool::Spool& spool_in, OutcomeSink& sink_in, Deliverer& deliverer_in)
    : config(std::move(config_in)),
      options(std::move(options_in)),
      clock(clock_in),
      spool(spool_in),
      job_sink(jobs, sink_in),
      completion(job_sink, spool_in, clock_in, options.host_name, options.postmaster),
      deliverer(deliverer_in),
      classifier(std::make_unique<delivery::ReplyClassifier>(*config)),
      selector(*config),
      rollup(
          config, deliverer_in, clock_in, [this](std::function<void()> task) { Defer(task); },
          [this](const Destination& dest, std::vector<ParkedRecipient> parked) {
            PlaceParked(dest, std::move(parked));
          }),
      cold(options.cold_counts_path),
      epoch(clock.Now().mono) {
  caps.SetConfig(*config);
  cold.SetConfig(*config);
  if (auto error = cold.Load(clock.Now().unix_seconds())) {
    OUTPOST_LOG(kWarning, "queue") << "IP warm-up counts start at 0: " << *error;
  }
  // Default: run posted work on the next RunDue() round (same thread only).
  completion.SetPoster([this](std::function<void()> task) { completions.push_back(task); });
}

// ---- time ------------------------------------------------------------------------------------
std::uint32_t QueueManager::Impl::DueSeconds(MonoTime t) const {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t - epoch).count();
  return ns < 0 ? 0u : static_cast<std::uint32_t>(ns / kTickNs);
}

std::uint32_t QueueManager::Impl::DueCeil(MonoTime t) const {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t - epoch).count();
  if (ns <= 0) return 0;
  return static_cast<std::uint32_t>((ns + kTickNs - 1) / kTickNs);
}

MonoTime QueueManager::Impl::FromDue(std::uint32_t due) const {
  return epoch + std::chrono::nanoseconds(static_cast<std::int64_t>(due) * kTickNs);
}

// ---- messages --------------------------------------------------------------------------------
std::uint32_t QueueManager::Impl::AllocMessage() {
  if (free_messages != kNoMessage) {
    std::uint32_t index = free_messages;
    free_messages = messages[index].next_free;
    messages[index] = MessageRecord{};
    return index;
  }
  messages.emplace_back();
  return static_cast<std::uint32_t>(messages.size() - 1);
}

void QueueManager::Impl::FreeMessage(std::uint32_t index) {
  messages[index] = MessageRecord{};
  messages[index].next_free = free_messages;
  free_messages = index;
  --live_messages;
}

// ---- queues ----------------------------------------------------------------------------------
void QueueManager::Impl::ApplyPolicy(Queue& q) {
  q.policy = MergeDomainPolicy(*config, q.policy_domain, q.key.vmta);
  q.weight = static_cast<std::uint32_t>(std::clamp(q.policy.queue_priority, 0, 100)) + 1;
  const bool backoff = q.mode == QueueMode::kBackoff;
  q.connect_rate.SetRate(backoff ? q.policy.backoff_max_connect_rate : q.policy.max_connect_rate);
  q.msg_rate.SetRate(backoff ? q.policy.backoff_max_msg_rate : q.policy.max_msg_rate);
  for (SourceSlot& s : q.sources) s.msg_rate.SetRate(q.policy.source_ip_max_msg_rate);
}

Queue& QueueManager::Impl::FindOrCreateQueue(const QueueKey& key, const std::string& mx_domain) {
  std::string name = FormatQueueName(key);
  auto it = queue_by_name.find(name);
  if (it != queue_by_name.end()) return *queues[it->second];
  auto q = std::make_unique<Queue>();
  q->index = static_cast<std::uint32_t>(queues.size());
  q->key = key;
  q->name = name;
  q->mx_domain = mx_domain;
  q->policy_domain = mx_domain;
  q->stats.name = name;
  q->policy = MergeDomainPolicy(*config, mx_domain, key.vmta);
  q->weight = static_cast<std::uint32_t>(std::clamp(q->policy.queue_priority, 0, 100)) + 1;
  q->pass = virtual_pass;
  q->connect_rate = Gcra(q->policy.max_connect_rate);
  q->msg_rate = Gcra(q->policy.max_msg_rate);
  const config::VirtualMta* vmta = config->FindVirtualMta(key.vmta);
  if (vmta != nullptr) {
    for (const config::SourceHost& h : vmta->source_hosts) {
      q->sources.push_back(
          SourceSlot{h.address, h.host_name, 0, Gcra(q->policy.source_ip_max_msg_rate)});
    }
  }
  if (q->sources.empty()) {
    q->sources.push_back(
        SourceSlot{"", options.host_name, 0, Gcra(q->policy.source_ip_max_msg_rate)});
  }
  queue_by_name.emplace(name, q->index);
  queues.push_back(std::move(q));
  return *queues.back();
}

std::string QueueManager::Impl::WarmUpVmta(const std::string& vmta, const Destination& dest) {
  const std::string* cold_vmta = cold.ColdOf(vmta);
  if (cold_vmta == nullptr) return vmta;
  const Queue& warm = FindOrCreateQueue(QueueKey{dest.name, vmta}, dest.mx_domain);
  if (!cold.Take(vmta, dest.name, warm.policy.max_cold_virtual_mta_msg,
                 clock.Now().unix_seconds())) {
    return vmta;
  }
  if (const std::string error = cold.TakeWriteError(); !error.empty()) {
    OUTPOST_LOG(kWarning, "queue") << "IP warm-up count not kept across a restart: " << error;
  }
  return *cold_vmta;
}

// Puts recipient `rcpt` of message `m` in the fresh tier, or (recovered) the scheduled one, due
// now.
void QueueManager::Impl::AddToQueue(Queue& q, std::uint32_t m, std::uint32_t rcpt, bool as_retry,
                                    MonoTime now) {
  if (jobs.Paused(messages[m].job)) {
    q.held.push_back(RetryEntry{DueSeconds(now), m, rcpt, 0});
  } else if (as_retry) {
    q.retry.push_back(RetryEntry{DueSeconds(now), m, rcpt, 0});
    std::push_heap(q.retry.begin(), q.retry.end(), RetryLater());
  } else {
    q.fresh.push_back(FreshEntry{m, rcpt});
  }
  ++q.stats.recipients;
}

void QueueManager::Impl::MarkDirty(Queue& q) {
  if (q.dirty) return;
  q.dirty = true;
  dirty.push_back(q.index);
}

void QueueManager::Impl::ScheduleWake(Queue& q, MonoTime t) {
  if (q.next_wake && *q.next_wake <= t) return;
  q.next_wake = t;
  wake_heap.emplace_back(t, q.index);
  std::push_heap(wake_heap.begin(), wake_heap.end(), std::greater<>());
}

void QueueManager::Impl::Notify() {
  if (wake && !in_run) wake();
}

void QueueManager::Impl::Defer(std::function<void()> task) {
  completions.push_back(std::move(task));
  Notify();
}

std::vector<Queue*> QueueManager::Impl::Match(const std::string& name) {
  std::vector<Queue*> out;
  for (auto& q : queues) {
    const bool vmta = name.size() > 2 && name.compare(0, 2, "*/") == 0 &&
                      q->key.vmta == std::string_view(name).substr(2);
    if (vmta || q->name == name || q->key.domain == name) out.push_back(q.get());
  }
  return out;
}

// ---- intake ----------------------------------------------------------------------------------
void QueueManager::Impl::Intake(spool::SpoolId id, const spool::Envelope& env, std::uint64_t size,
                                const std::vector<bool>* done, bool as_retry) {
  const MonoTime now = clock.Now().mono;
  std::uint32_t m = AllocMessage();
  MessageRecord& rec = messages[m];
  rec.id = id;
  rec.time_queued = static_cast<std::uint32_t>(std::max<std::int64_t>(0, env.time_queued));
  rec.size = static_cast<std::uint32_t>(std::min<std::uint64_t>(size, 0xffffffffu));
  rec.job = jobs.Intern(env.job_id, clock.Now().unix_seconds());
  if (env.mail_from.empty()) rec.flags |= kNullSender;
  if (!env.verp_delimiters.empty()) rec.flags |= kVerp;
  ++live_messages;

  VmtaChoice choice = selector.Select(env.vmta);
  std::vector<std::pair<std::uint32_t, std::uint32_t>> per_queue;  // queue -> count
  std::uint32_t pending = 0;
  bool parked = false;
  for (std::uint32_t i = 0; i < env.recipients.size(); ++i) {
    if (done != nullptr && i < done->size() && (*done)[i]) continue;
    std::string domain = RecipientDomain(env.recipients[i]);
    if (domain.empty()) domain = options.host_name;
    ++pending;
    std::string rerouted;  // alert-driven (reroutes.hpp)
    if (const std::string* pool = reroutes.PoolFor(domain)) rerouted = selector.Select(*pool).vmta;
    const std::string& vmta = rerouted.empty() ? choice.vmta : rerouted;
    const Destination* dest = rollup.DestinationFor(domain, now);
    if (dest == nullptr) {  // waits for the mx-rollup decision (PlaceParked)
      rollup.Park(domain, ParkedRecipient{m, i, as_retry, vmta});
      parked = true;
      continue;
    }
    Queue& q = FindOrCreateQueue(QueueKey{dest->name, WarmUpVmta(vmta, *dest)}, dest->mx_domain);
    AddToQueue(q, m, i, as_retry, now);
    auto it = std::find_if(per_queue.begin(), per_queue.end(),
                           [&](const auto& p) { return p.first == q.index; });
    if (it == per_queue.end()) {
      per_queue.emplace_back(q.index, 1);
      ++q.stats.messages;
      MarkDirty(q);
    } else {
      ++it->second;
    }
  }
  messages[m].remaining = pending;
  queued += pending;
  if (pending == 0) {
    jobs.Finished(messages[m].job, 0, false);  // a job with nothing queued may be forgotten
    spool.MarkMessageDone(id);
    FreeMessage(m);
    return;
  }
  jobs.Accepted(messages[m].job, pending, clock.Now().unix_seconds());
  if (per_queue.size() == 1 && !parked) {
    messages[m].flags |= kSingleQueue;
  } else {
    for (const auto& [queue, count] : per_queue) {
      pair_counts[(static_cast<std::uint64_t>(m) << 32) | queue] = count;
    }
  }
  Notify();
}

void QueueManager::Impl::PlaceParked(const Destination& dest, std::vector<ParkedRecipient> parked) {
  const MonoTime now = clock.Now().mono;
  for (const ParkedRecipient& p : parked) {
    // Parked recipients are pending: their message cannot have been finished meanwhile.
    if (!OUTPOST_INVARIANT(messages[p.msg].remaining != 0,
                           "a parked recipient's message is live")) {
      continue;
    }
    Queue& q = FindOrCreateQueue(QueueKey{dest.name, WarmUpVmta(p.vmta, dest)}, dest.mx_domain);
    AddToQueue(q, p.msg, p.rcpt, p.retry, now);
    if (++pair_counts[(static_cast<std::uint64_t>(p.msg) << 32) | q.index] == 1) {
      ++q.stats.messages;
    }
    MarkDirty(q);
  }
}

// ---- pumping ---------------------------------------------------------------------------------
bool QueueManager::Impl::RetryDue(const Queue& q, std::uint32_t now_due) const {
  return !q.retry.empty() && q.retry.front().due <= now_due;
}

bool QueueManager::Impl::HasReadyWork(const Queue& q, std::uint32_t now_due) const {
  return !q.fresh.empty() || RetryDue(q, now_due);
}

bool QueueManager::Impl::Expired(const Queue& q, std::uint32_t m, std::int64_t now_unix) const {
  return now_unix >= ExpiresAt(messages[m].time_queued, q.policy);
}

int QueueManager::Impl::MaxSmtpOut(const Queue& q) const {
  return q.mode == QueueMode::kBackoff ? q.policy.backoff_max_smtp_out : q.policy.max_smtp_out;
}

int QueueManager::Impl::MaxMsgPerConnection(const Queue& q) const {
  return q.mode == QueueMode::kBackoff ? q.policy.backoff_max_msg_per_connection
                                       : q.policy.max_msg_per_connection;
}

void QueueManager::Impl::ChangeMode(Queue& q, QueueMode mode, MonoTime now,
                                    const std::string& why) {
  if (q.mode == mode) return;
  q.mode = mode;
  if (mode == QueueMode::kBackoff) q.backoff_since = now;
  const bool backoff = mode == QueueMode::kBackoff;
  q.connect_rate.SetRate(backoff ? q.policy.backoff_max_connect_rate : q.policy.max_connect_rate);
  q.msg_rate.SetRate(backoff ? q.policy.backoff_max_msg_rate : q.policy.max_msg_rate);
  ++q.stats.mode_changes;
  OUTPOST_LOG(kInfo, "queue") << q.name << " mode " << QueueModeName(mode) << " (" << why << ")";
  MarkDirty(q);
}

// A queue's round: leave backoff when its time is up, fill its connections (send on idle ones,
// open new ones) within the shaping limits, close idle connections with nothing to send, and ask
// to be woken for whatever comes due first.
void QueueManager::Impl::Pump(Queue& q) {
  LeaveWaiting(q);
  if (stopped) return;
  const Instant now = clock.Now();
  const std::uint32_t now_due = DueSeconds(now.mono);
  WakeAt wake_at;
  LeaveBackoffWhenDue(q, now.mono, wake_at);
  const bool held = q.paused || now.mono < q.hold_until;
  if (!q.paused && now.mono < q.hold_until) wake_at.Want(q.hold_until);
  for (int guard = 0; !held && guard < 10000; ++guard) {
    if (!PumpStep(q, now, wake_at)) break;
  }
  CloseIdleConnections(q, now, !held && HasReadyWork(q, now_due), wake_at);
  if (!q.paused && !q.retry.empty() && q.retry.front().due > now_due) {
    wake_at.Want(FromDue(q.retry.front().due));
  }
  if (wake_at.at) ScheduleWake(q, *wake_at.at);
}

void QueueManager::Impl::LeaveBackoffWhenDue(Queue& q, MonoTime now, WakeAt& wake_at) {
  if (q.mode != QueueMode::kBackoff || !q.policy.backoff_to_normal_after) return;
  const MonoTime until = q.backoff_since + *q.policy.backoff_to_normal_after;
  if (now >= until) {
    ChangeMode(q, QueueMode::kNormal, now,
               "backoff-to-normal-after " + FormatDuration(*q.policy.backoff_to_normal_after));
  } else {
    wake_at.Want(until);
  }
}

bool QueueManager::Impl::PumpStep(Queue& q, const Instant& now, WakeAt& wake_at) {
  if (!HasReadyWork(q, DueSeconds(now.mono))) return false;
  if (WaitForActiveSet(q)) return false;
  for (Connection& c : q.connections) {
    if (c.state == ConnState::kIdle) return SendOnIdle(q, c, now, wake_at);
  }
  return OpenConnection(q, now, wake_at);
}

// True (and the queue joins the waiting list) when the active set is full or a queue ahead of
// this one in the fair share should use the room first.
bool QueueManager::Impl::WaitForActiveSet(Queue& q) {
  if (active < options.max_active_recipients && !YieldsActiveSet(q)) return false;
  if (!q.waiting_for_active) {
    q.waiting_for_active = true;
    waiting_for_active.push_back(q.index);
  }
  return true;
}

// Sends one transaction on an idle connection if the message rates allow.
bool QueueManager::Impl::SendOnIdle(Queue& q, Connection& idle, const Instant& now,
                                    WakeAt& wake_at) {
  SourceSlot& src = q.sources[idle.source];
  const std::uint32_t max_rcpt = static_cast<std::uint32_t>(q.policy.max_rcpt_per_transaction);
  std::uint64_t allowance = q.msg_rate.Available(now.mono, max_rcpt);
  allowance = src.msg_rate.Available(now.mono, allowance);
  if (allowance == 0) {
    wake_at.Want(std::max(q.msg_rate.NextAllowed(now.mono), src.msg_rate.NextAllowed(now.mono)));
    return false;
  }
  std::vector<BatchEntry> batch = FormBatch(q, now,
                                            static_cast<std::uint32_t>(std::min<std::uint64_t>(
                                                allowance, options.max_active_recipients)));
  if (batch.empty()) return true;  // all expired on the way: look again
  Served(q, batch.size());
  q.msg_rate.Take(now.mono, batch.size());
  src.msg_rate.Take(now.mono, batch.size());
  StartSend(q, idle, std::move(batch));
  return true;
}

// No idle connection: opens one if the limits allow and the work warrants it.
bool QueueManager::Impl::OpenConnection(Queue& q, const Instant& now, WakeAt& wake_at) {
  const int open = static_cast<int>(q.connections.size());
  if (open >= MaxSmtpOut(q)) return false;
  int connecting = 0;
  for (const Connection& c : q.connections) connecting += c.state == ConnState::kConnecting;
  const std::uint32_t now_due = DueSeconds(now.mono);
  const std::uint64_t pending = q.fresh.size() + (RetryDue(q, now_due) ? q.retry.size() : 0);
  // Never more connections opening than recipients waiting for one.
  if (static_cast<std::uint64_t>(connecting) >= pending) return false;
  std::optional<std::uint32_t> source;
  for (std::size_t k = 0; k < q.sources.size(); ++k) {
    std::uint32_t s = static_cast<std::uint32_t>((q.next_source + k) % q.sources.size());
    if (q.policy.source_ip_max_smtp_out <= 0 ||
        q.sources[s].connections < q.policy.source_ip_max_smtp_out) {
      source = s;
      break;
    }
  }
  if (!source) return false;
  if (!caps.Allows(q.key.vmta)) {  // its virtual MTA's or outpostd's total: woken by a close
    if (caps.Wait(q.index)) ReleaseIdleSlots(q, now);
    return false;
  }
  if (!q.connect_rate.TryTake(now.mono)) {
    wake_at.Want(q.connect_rate.NextAllowed(now.mono));
    return false;
  }
  q.next_source = (*source + 1) % static_cast<std::uint32_t>(q.sources.size());
  StartConnect(q, *source);
  return true;
}

// A queue waits for a connection slot (connection_caps.hpp): the idle connections with nothing
// to send that hold one — of its virtual MTA, or of any when outpostd's total is full — give it
// back now instead of at their idle timeout.
void QueueManager::Impl::ReleaseIdleSlots(const Queue& waiting, const Instant& now) {
  const std::uint32_t now_due = DueSeconds(now.mono);
  for (auto& other : queues) {
    if (other.get() == &waiting || HasReadyWork(*other, now_due)) continue;
    if (other->key.vmta != waiting.key.vmta && !caps.TotalFull()) continue;
    for (std::size_t i = 0; i < other->connections.size(); ++i) {
      if (other->connections[i].state == ConnState::kIdle) CloseConnection(*other, i);
    }
  }
}

// Idle connections with nothing to send (`work` false) are closed after the idle timeout, at
// once when the queue is paused or another queue waits for a connection slot.
void QueueManager::Impl::CloseIdleConnections(Queue& q, const Instant& now, bool work,
                                              WakeAt& wake_at) {
  for (std::size_t i = 0; i < q.connections.size();) {
    Connection& c = q.connections[i];
    if (c.state == ConnState::kIdle && !work) {
      MonoTime deadline = c.idle_since + options.idle_connection_timeout;
      if (now.mono >= deadline || q.paused || caps.HasWaiting()) {
        CloseConnection(q, i);
        continue;
      }
      wake_at.Want(deadline);
    }
    ++i;
  }
}

// Takes one transaction's recipients (at most `limit`) from the fresh or the due-retry tier,
// alternating; expired recipients met on the way are bounced.
std::vector<BatchEntry> QueueManager::Impl::FormBatch(Queue& q, const Instant& now,
                                                      std::uint32_t limit) {
  const std::uint32_t now_due = DueSeconds(now.mono);
  const std::int64_t now_unix = now.unix_seconds();
  std::vector<BatchEntry> batch;
  for (int guard = 0; guard < 1000; ++guard) {
    const bool fresh_ok = !q.fresh.empty();
    const bool retry_ok = RetryDue(q, now_due);
    if (!fresh_ok && !retry_ok) return batch;
    const bool use_fresh = fresh_ok && (q.prefer_fresh || !retry_ok);
    const std::uint32_t m = use_fresh ? q.fresh.front().msg : q.retry.front().msg;
    // VERP: the envelope sender names the recipient, so one recipient per transaction.
    const std::uint32_t cap = (messages[m].flags & kVerp) ? 1 : limit;
    std::vector<BatchEntry> taken;
    if (use_fresh) {
      while (!q.fresh.empty() && q.fresh.front().msg == m) {
        taken.push_back(BatchEntry{m, q.fresh.front().rcpt, 0});
        q.fresh.pop_front();
        if (taken.size() >= cap && !Expired(q, m, now_unix)) break;
      }
    } else {
      while (!q.retry.empty() && q.retry.front().msg == m && q.retry.front().due <= now_due) {
        const RetryEntry& e = q.retry.front();
        taken.push_back(BatchEntry{m, e.rcpt, e.attempts});
        std::pop_heap(q.retry.begin(), q.retry.end(), RetryLater());
        q.retry.pop_back();
        if (taken.size() >= cap && !Expired(q, m, now_unix)) break;
      }
    }
    if (Expired(q, m, now_unix)) {
      std::vector<std::uint32_t> rcpts;
      for (const BatchEntry& e : taken) rcpts.push_back(e.rcpt);
      Expire(q, m, std::move(rcpts), now_unix);
      continue;
    }
    q.prefer_fresh = !use_fresh;
    return taken;
  }
  return batch;
}

// Bounces every expired recipient of the queue (used while the queue cannot connect).
void QueueManager::Impl::SweepExpired(Queue& q, const Instant& now) {
  const std::int64_t now_unix = now.unix_seconds();
  std::vector<std::pair<std::uint32_t, std::uint32_t>> expired;  // (msg, rcpt)
  std::deque<FreshEntry> keep_fresh;
  for (const FreshEntry& e : q.fresh) {
    if (Expired(q, e.msg, now_unix)) {
      expired.emplace_back(e.msg, e.rcpt);
    } else {
      keep_fresh.push_back(e);
    }
  }
  std::vector<RetryEntry> keep_retry;
  for (const RetryEntry& e : q.retry) {
    if (Expired(q, e.msg, now_unix)) {
      expired.emplace_back(e.msg, e.rcpt);
    } else {
      keep_retry.push_back(e);
    }
  }
  if (expired.empty()) return;
  q.fresh.swap(keep_fresh);
  q.retry.swap(keep_retry);
  std::make_heap(q.retry.begin(), q.retry.end(), RetryLater());
  std::sort(expired.begin(), expired.end());
  for (std::size_t i = 0; i < expired.size();) {
    std::uint32_t m = expired[i].first;
    std::vector<std::uint32_t> rcpts;
    for (; i < expired.size() && expired[i].first == m; ++i) rcpts.push_back(expired[i].second);
    Expire(q, m, std::move(rcpts), now_unix);
  }
}

std::uint32_t QueueManager::Impl::OldestQueued(const Queue& q) const {
  std::uint32_t oldest = 0;
  auto see = [&](std::uint32_t m) {
    const std::uint32_t t = messages[m].time_queued;
    if (oldest == 0 || t < oldest) oldest = t;
  };
  for (const FreshEntry& e : q.fresh) see(e.msg);
  for (const RetryEntry& e : q.retry) see(e.msg);
  for (const RetryEntry& e : q.held) see(e.msg);
  return oldest;
}

// ---- the active set's weighted fair share ----------------------------------------------------
// Start-time fair queuing over the queues that want a share of the active set. A queue that
// puts n recipients in a transaction advances its pass by n * kPassScale / weight; while others
// wait, the queue with the lowest pass goes first (a queue whose pass is higher yields, see
// YieldsActiveSet). So under contention queues get recipients in proportion to their
// queue-priority + 1: priority 0 still gets a share (no starvation), and equal priorities
// alternate. A queue that was idle starts at virtual_pass (the pass of the queue served last),
// so it cannot claim the time it was idle.

// Accounts for `n` recipients the queue just put into a transaction.
void QueueManager::Impl::Served(Queue& q, std::size_t n) {
  q.pass = std::max(q.pass, virtual_pass);
  virtual_pass = q.pass;
  q.pass += n * (kPassScale / q.weight);
}

// A queue's place in line: behind it lies no claim older than the queue served last.
std::uint64_t QueueManager::Impl::EffectivePass(const Queue& q) const {
  return std::max(q.pass, virtual_pass);
}

bool QueueManager::Impl::Before(const Queue& a, const Queue& b) const {
  const std::uint64_t pa = EffectivePass(a), pb = EffectivePass(b);
  return pa != pb ? pa < pb : a.index < b.index;
}

// True when a waiting queue ahead of `q` should use the free capacity first.
bool QueueManager::Impl::YieldsActiveSet(const Queue& q) const {
  for (std::uint32_t index : waiting_for_active) {
    if (Before(*queues[index], q)) return true;
  }
  return false;
}

void QueueManager::Impl::LeaveWaiting(Queue& q) {
  if (!q.waiting_for_active) return;
  q.waiting_for_active = false;
  auto it = std::find(waiting_for_active.begin(), waiting_for_active.end(), q.index);
  if (OUTPOST_INVARIANT(it != waiting_for_active.end(), "a waiting queue is in the waiting list")) {
    waiting_for_active.erase(it);
  }
}

// A transaction of `n` recipients ended: they leave the active set.
void QueueManager::Impl::LeaveActiveSet(std::size_t n) {
  if (!OUTPOST_INVARIANT(active >= n, "a transaction's recipients are counted as active")) {
    active = 0;
    return;
  }
  active -= n;
}

// At the end of a RunDue() round: with room in the active set, the waiting queues first in line
// are pumped, as many as there are free places (each takes at least one if it sends at all; one
// that cannot send leaves the list, and the next round feeds the next). A pumped queue leaves
// the waiting list; one that still yields comes back.
void QueueManager::Impl::FeedActiveSet() {
  if (waiting_for_active.empty() || active >= options.max_active_recipients || stopped) return;
  const std::size_t room = static_cast<std::size_t>(
      std::min<std::uint64_t>(options.max_active_recipients - active, waiting_for_active.size()));
  std::vector<std::uint32_t> order = waiting_for_active;
  auto before = [this](std::uint32_t a, std::uint32_t b) { return Before(*queues[a], *queues[b]); };
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(room), order.end(),
                    before);
  for (std::size_t k = 0; k < room; ++k) MarkDirty(*queues[order[k]]);
}

// ---- driving ---------------------------------------------------------------------------------
// Rounds of: posted work (Deliverer answers, DSN commits, DNS answers), queues whose wake-up is
// due, pumps of the dirty queues, then the active set's feeding; until nothing is left to do now.
void QueueManager::Impl::RunDue() {
  if (in_run) return;
  in_run = true;
  completion.ReleaseHeld();
  for (int round = 0; round < 100000; ++round) {
    std::vector<std::function<void()>> work;
    work.swap(completions);
    for (auto& task : work) task();
    RunWakeUps(clock.Now().mono);
    std::vector<std::uint32_t> pumps;
    pumps.swap(dirty);
    for (std::uint32_t index : pumps) {
      Queue& q = *queues[index];
      q.dirty = false;
      Pump(q);
    }
    FeedActiveSet();
    if (completions.empty() && dirty.empty()) break;
  }
  CheckStallsWhenDue(clock.Now().mono);
  in_run = false;
}

void QueueManager::Impl::RunWakeUps(MonoTime now) {
  while (!wake_heap.empty() && wake_heap.front().first <= now) {
    std::pop_heap(wake_heap.begin(), wake_heap.end(), std::greater<>());
    auto [t, index] = wake_heap.back();
    wake_heap.pop_back();
    Queue& q = *queues[index];
    if (q.next_wake && *q.next_wake == t) q.next_wake.reset();
    MarkDirty(q);
  }
}

// ---- the public API --------------------------------------------------------------------------
QueueManager::QueueManager(std::shared_ptr<const config::Config> config,
                           QueueManagerOptions options, const Clock& clock, spool::Spool& spool,
                           OutcomeSink& outcomes, Deliverer& deliverer)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(options), clock, spool, outcomes,
                                   deliverer)) {}

QueueManager::~QueueManager() = default;

void QueueManager::SetPoster(Poster post) { impl_->completion.SetPoster(std::move(post)); }
void QueueManager::SetWakeHook(std::function<void()> wake) { impl_->wake = std::move(wake); }

void QueueManager::Enqueue(spool::SpoolId id, const spool::Envelope& envelope, std::uint64_t size) {
  impl_->Intake(id, envelope, size, nullptr, false);
}

void QueueManager::Recover(const spool::RecoveredMessage& message) {
  impl_->Intake(message.id, message.envelope, message.data_size, &message.done_recipients, true);
}

bool QueueManager::Admit(std::size_t recipients) {
  const std::uint64_t max = impl_->options.max_queued_recipients;
  if (max == 0 || impl_->queued + recipients <= max) return true;
  ++impl_->admission_refusals;
  return false;
}

void QueueManager::RunDue() { impl_->RunDue(); }

std::optional<MonoTime> QueueManager::NextWake() const {
  if (!impl_->completions.empty() || !impl_->dirty.empty()) return impl_->clock.Now().mono;
  std::optional<MonoTime> next;
  if (!impl_->wake_heap.empty()) next = impl_->wake_heap.front().first;
  for (const std::optional<MonoTime> t : {impl_->completion.NextCheck(), impl_->NextStallCheck()}) {
    if (t && (!next || *t < *next)) next = t;
  }
  return next;
}

int QueueManager::Pause(const std::string& name) {
  auto queues = impl_->Match(name);
  for (Queue* q : queues) {
    if (!q->paused) {
      OUTPOST_LOG(kInfo, "queue") << q->name << " paused";
    }
    q->paused = true;
    q->stats.paused = true;
    impl_->MarkDirty(*q);
  }
  return static_cast<int>(queues.size());
}

int QueueManager::Resume(const std::string& name) {
  auto queues = impl_->Match(name);
  for (Queue* q : queues) {
    if (q->paused) {
      OUTPOST_LOG(kInfo, "queue") << q->name << " resumed";
    }
    q->paused = false;
    q->stats.paused = false;
    impl_->MarkDirty(*q);
  }
  impl_->Notify();
  return static_cast<int>(queues.size());
}

std::optional<std::string> QueueManager::SetReroute(const std::string& name,
                                                    const std::string& target,
                                                    const std::string& pool) {
  std::optional<std::string> error = impl_->reroutes.Set(name, target, pool);
  if (!error) {
    OUTPOST_LOG(kInfo, "queue") << "new mail for " << target << " goes through " << pool;
  }
  return error;
}

bool QueueManager::ClearReroute(const std::string& name) { return impl_->reroutes.Clear(name); }

int QueueManager::Delete(const std::string& name, std::string* error) {
  auto queues = impl_->Match(name);
  if (queues.empty()) {
    if (error != nullptr) *error = "no such queue: " + name;
    return -1;
  }
  const Instant now = impl_->clock.Now();
  std::uint64_t deleted = 0;
  for (Queue* q : queues) deleted += impl_->DeleteQueued(*q, now);
  impl_->Notify();
  return static_cast<int>(std::min<std::uint64_t>(deleted, 0x7fffffff));
}

int QueueManager::SetMode(const std::string& name, QueueMode mode) {
  auto queues = impl_->Match(name);
  for (Queue* q : queues) {
    impl_->ChangeMode(*q, mode, impl_->clock.Now().mono, "operator");
  }
  impl_->Notify();
  return static_cast<int>(queues.size());
}

void QueueManager::SetConfig(std::shared_ptr<const config::Config> config) {
  impl_->config = std::move(config);
  impl_->classifier = std::make_unique<delivery::ReplyClassifier>(*impl_->config);
  impl_->selector.SetConfig(*impl_->config);
  impl_->rollup.SetConfig(impl_->config);
  impl_->caps.SetConfig(*impl_->config);
  impl_->cold.SetConfig(*impl_->config);
  for (auto& q : impl_->queues) {
    impl_->ApplyPolicy(*q);
    impl_->MarkDirty(*q);
  }
  impl_->Notify();
}

void QueueManager::Stop() {
  impl_->stopped = true;
  for (auto& q : impl_->queues) {
    for (std::size_t i = 0; i < q->connections.size();) {
      if (q->connections[i].state == ConnState::kIdle) {
        impl_->CloseConnection(*q, i);
      } else {
        ++i;
      }
    }
  }
}

QueueSnapshot QueueManager::Snapshot() const {
  QueueSnapshot snap;
  QueueTotals& t = snap.totals;
  const std::int64_t now_unix = impl_->clock.Now().unix_seconds();
  for (const auto& q : impl_->queues) {
    QueueStats s = q->stats;
    if (const std::uint32_t oldest = impl_->OldestQueued(*q); oldest != 0) {
      s.oldest_age_seconds =
          static_cast<std::uint64_t>(std::max<std::int64_t>(0, now_unix - oldest));
      t.oldest_age_seconds = std::max(t.oldest_age_seconds, s.oldest_age_seconds);
    }
    s.mode = QueueModeName(q->mode);
    if (const std::string* cold_vmta = impl_->cold.ColdOf(q->key.vmta)) {
      s.cold_vmta = *cold_vmta;
      s.cold_today = impl_->cold.Today(q->key.vmta, q->key.domain, now_unix);
      s.cold_limit = q->policy.max_cold_virtual_mta_msg;
    }
    s.connections = q->connections.size();
    t.connections += s.connections;
    t.delivered += s.delivered;
    t.deferred += s.deferred;
    t.bounced += s.bounced;
    t.expired += s.expired;
    t.mode_changes += s.mode_changes;
    if (q->mode == QueueMode::kBackoff) {
      ++t.queues_in_backoff;
      t.recipients_in_backoff += s.recipients;
      const auto in_backoff = impl_->clock.Now().mono - q->backoff_since;
      s.backoff_seconds = static_cast<std::uint64_t>(std::max<std::int64_t>(
          0, std::chrono::duration_cast<std::chrono::seconds>(in_backoff).count()));
    }
    snap.queues.push_back(std::move(s));
  }
  t.queues = impl_->queues.size();
  t.recipients = impl_->queued;
  t.messages = impl_->live_messages;
  t.active_recipients = impl_->active;
  t.dsns = impl_->dsns;
  t.admission_refusals = impl_->admission_refusals;
  t.stalls = impl_->stalls;
  t.stalled_queues = impl_->stalled_queues;
  t.held_completions = impl_->completion.held();
  snap.jobs = impl_->jobs.Snapshot();
  return snap;
}

std::uint64_t QueueManager::queued_recipients() const { return impl_->queued; }

}  // namespace outpost::queue
