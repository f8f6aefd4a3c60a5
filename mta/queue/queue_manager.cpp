#include "mta/queue/queue_manager.hpp"

#include <algorithm>
#include <deque>
#include <unordered_map>
#include <utility>

#include "mta/delivery/dsn.hpp"
#include "mta/delivery/reply_classifier.hpp"
#include "mta/log/log.hpp"
#include "mta/queue/completion.hpp"
#include "mta/queue/domain_policy.hpp"
#include "mta/queue/gcra.hpp"
#include "mta/queue/queue_name.hpp"

namespace outpost::queue {

namespace {

constexpr std::uint32_t kNoMessage = 0xffffffffu;
// A recipient costs a queue of weight w (1..101) kPassScale / w of pass; the scale makes the
// integer division's rounding negligible (under 1 in 10,000 of a step).
constexpr std::uint64_t kPassScale = 1'000'000;

// One per message in the slab. 40 bytes.
struct MessageRecord {
  spool::SpoolId id;              // 16 (u32 + padding + u64)
  std::uint32_t time_queued = 0;  // UNIX seconds (good until 2106)
  std::uint32_t size = 0;         // bytes, saturated
  std::uint32_t remaining = 0;    // recipients without a final outcome; 0 = free slot
  std::uint32_t next_free = kNoMessage;
  std::uint8_t flags = 0;
};
constexpr std::uint8_t kNullSender = 1;
constexpr std::uint8_t kSingleQueue = 2;

// A fresh recipient: 8 bytes.
struct FreshEntry {
  std::uint32_t msg;
  std::uint32_t rcpt;
};

// A scheduled recipient: 16 bytes. `due` is in 100 ms ticks since the manager's steady epoch.
struct RetryEntry {
  std::uint32_t due;
  std::uint32_t msg;
  std::uint32_t rcpt;
  std::uint8_t attempts;
};
// std::*_heap build max-heaps; "greater" gives the earliest due (then message order) on top.
struct RetryLater {
  bool operator()(const RetryEntry& a, const RetryEntry& b) const {
    if (a.due != b.due) return a.due > b.due;
    if (a.msg != b.msg) return a.msg > b.msg;
    return a.rcpt > b.rcpt;
  }
};

struct BatchEntry {
  std::uint32_t msg;
  std::uint32_t rcpt;
  std::uint8_t attempts;
};

// kClosing: QUIT/close in progress; still counted against max-smtp-out (and the source's limit)
// until the Deliverer reports the socket closed.
enum class ConnState : std::uint8_t { kConnecting, kIdle, kBusy, kClosing };

struct Connection {
  std::uint64_t serial = 0;  // ours; the Deliverer's id is known only once connected
  std::string domain;        // the MX lookup target it was opened for (a kPermFail names it)
  ConnectionId id = 0;
  std::uint32_t source = 0;  // index into Queue::sources
  ConnState state = ConnState::kConnecting;
  std::uint32_t messages = 0;
  MonoTime idle_since{};
  ConnectOutcome info;
};

// Why a recipient was deferred, as its DSN says it if it expires: Diagnostic-Code ("smtp; 451
// 4.2.0 ...", or "X-Outpost; connect to ...: Connection refused" without a reply) and the
// Remote-MTA's host name. Kept once per queue, not per recipient (recipients are 16-byte records):
// a recipient that expires when it comes due, without a new attempt, is reported with the last
// deferral of its queue. XXX: in a queue whose recipients are deferred for different reasons
// (one mailbox full, the others greylisted) that may be another recipient's reason; a restart
// forgets it (the DSN then says only that the message expired).
struct LastDeferral {
  std::string diagnostic;  // "" = none known
  std::string remote_mta;  // host name, or ""
};

struct SourceSlot {
  std::string address;
  std::string ehlo;
  int connections = 0;
  Gcra msg_rate;
};

struct Queue {
  std::uint32_t index = 0;
  QueueKey key;
  std::string name;
  std::string mx_domain;      // a recipient domain of the queue, for the MX lookup
  std::string policy_domain;  // whose merged <domain> policy the queue uses (fixed)
  EffectiveDomainPolicy policy;
  std::deque<FreshEntry> fresh;
  std::vector<RetryEntry> retry;  // heap (RetryLater)
  bool prefer_fresh = true;
  bool paused = false;
  QueueMode mode = QueueMode::kNormal;
  MonoTime backoff_since{};
  Gcra connect_rate;
  Gcra msg_rate;
  std::vector<SourceSlot> sources;
  std::uint32_t next_source = 0;
  std::vector<Connection> connections;
  MonoTime hold_until{};
  std::optional<MonoTime> next_wake;
  bool dirty = false;
  bool waiting_for_active = false;
  // Weighted fair share of the active set (see FeedActiveSet): weight = queue-priority + 1, and
  // `pass` grows by kPassScale / weight per recipient the queue puts in a transaction.
  std::uint32_t weight = 51;
  std::uint64_t pass = 0;
  // Bumped by Delete(): a transaction started before it turns a would-be deferral into a
  // "deleted by operator" bounce (its recipients were not in the queue to delete).
  std::uint32_t deletions = 0;
  // The queue's last deferral (a 4xx or a connection failure): what the DSN of a recipient that
  // expires without an attempt of its own says (see LastDeferral).
  LastDeferral last_deferral;
  QueueStats stats;
};

// A transaction on its way.
struct InFlight {
  std::uint32_t queue = 0;
  std::uint32_t deletions = 0;  // Queue::deletions when it started
  std::uint64_t connection = 0;
  std::vector<BatchEntry> entries;
  spool::Envelope envelope;
  std::uint64_t size = 0;
};

// mx-rollup bookkeeping (see the header). Decisions are remembered for kRollupTtl (for
// kRollupRetry after a temporary DNS failure).
constexpr std::chrono::hours kRollupTtl{1};
constexpr std::chrono::seconds kRollupRetry{60};

struct Destination {
  std::string name;       // the queue's destination: the domain itself or its mx-rollup name
  std::string mx_domain;  // the MX lookup target of that queue
  MonoTime expires = MonoTime::max();
};

// A recipient waiting for its domain's mx-rollup decision.
struct ParkedRecipient {
  std::uint32_t msg;
  std::uint32_t rcpt;
  bool retry;
  std::string vmta;
};

struct PendingDomain {
  std::string rollup;
  std::vector<ParkedRecipient> parked;
  std::optional<MxHostsAnswer> answer;
};

struct Rollup {
  enum class State { kResolving, kKnown, kUnavailable, kNoReference };
  State state = State::kResolving;
  std::vector<std::string> hosts;  // the reference MX host set (kKnown; kNoReference once claimed)
  std::string mx_domain;           // the domain whose hosts are the reference
  MonoTime expires{};
  std::vector<std::string> waiting;  // member domains waiting for this answer
};

std::string FormatDuration(config::Seconds s) {
  std::int64_t v = s.count();
  std::string out;
  if (v >= 86400) out += std::to_string(v / 86400) + "d", v %= 86400;
  if (v >= 3600) out += std::to_string(v / 3600) + "h", v %= 3600;
  if (v >= 60) out += std::to_string(v / 60) + "m", v %= 60;
  if (v > 0 || out.empty()) out += std::to_string(v) + "s";
  return out;
}

std::string HeaderSection(const std::string& data) {
  std::size_t end = data.find("\r\n\r\n");
  return end == std::string::npos ? data : data.substr(0, end + 2);
}

std::string StatusCode(const delivery::Reply& reply) {
  if (!reply.enhanced.empty()) return reply.enhanced;
  if (reply.code == 0) return "4.4.2";
  return std::to_string(reply.code / 100) + ".0.0";
}

// The classifier names a category; <bounce-category-patterns> accepts only known names.
delivery::BounceCategory CategoryOf(const std::string& name) {
  return delivery::ParseBounceCategory(name).value_or(delivery::BounceCategory::kOther);
}

// dsnMta reads "host (address)": Remote-MTA takes the host alone.
std::string RemoteHost(const std::string& remote_mta) {
  return remote_mta.substr(0, remote_mta.find(" ("));
}

// What a DSN says about a recipient refused with `reply` (a 5xx) by the MX of `info`.
delivery::DsnRecipient DsnReport(const std::string& address, const delivery::Reply& reply,
                                 const ConnectOutcome& info) {
  delivery::DsnRecipient d;
  d.address = address;
  d.status = StatusCode(reply);
  d.diagnostic = "smtp; " + reply.Full();
  d.remote_mta = RemoteHost(info.remote_mta);
  return d;
}

// A deferral `reply` (code 0: the connection was lost, `reply.text` says how) from `remote_mta`.
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

}  // namespace

struct QueueManager::Impl {
  Impl(std::shared_ptr<const config::Config> config_in, QueueManagerOptions options_in,
       const Clock& clock_in, spool::Spool& spool_in, OutcomeSink& sink_in, Deliverer& deliverer_in)
      : config(std::move(config_in)),
        options(std::move(options_in)),
        clock(clock_in),
        spool(spool_in),
        completion(sink_in, spool_in, clock_in),
        deliverer(deliverer_in),
        classifier(std::make_unique<delivery::ReplyClassifier>(*config)),
        selector(*config),
        epoch(clock.Now().mono) {
    // Default: run posted work on the next RunDue() round (same thread only).
    post = [this](std::function<void()> task) { completions.push_back(std::move(task)); };
  }

  std::shared_ptr<const config::Config> config;
  QueueManagerOptions options;
  const Clock& clock;
  spool::Spool& spool;
  Completion completion;  // write -> flush -> durable -> mark done (completion.hpp)
  Deliverer& deliverer;
  std::unique_ptr<delivery::ReplyClassifier> classifier;
  VmtaSelector selector;
  MonoTime epoch;
  Poster post;
  std::function<void()> wake;

  std::vector<MessageRecord> messages;
  std::uint32_t free_messages = kNoMessage;
  std::vector<std::unique_ptr<Queue>> queues;
  std::unordered_map<std::string, std::uint32_t> queue_by_name;
  std::unordered_map<std::string, Destination> destination_cache;  // recipient domain -> queue
  std::unordered_map<std::string, PendingDomain> pending_domains;  // awaiting a rollup decision
  std::unordered_map<std::string, Rollup> rollups;                 // by mx-rollup name
  // (message << 32 | queue) -> recipients pending, for messages spread over several queues.
  std::unordered_map<std::uint64_t, std::uint32_t> pair_counts;

  std::vector<std::pair<MonoTime, std::uint32_t>> wake_heap;  // min-heap via greater
  std::vector<std::uint32_t> dirty;
  std::vector<std::uint32_t> waiting_for_active;  // queues refused a share of the active set
  std::uint64_t virtual_pass = 0;                 // pass of the queue served last (see Served)
  std::vector<std::function<void()>> completions;
  std::uint64_t next_serial = 1;
  bool in_run = false;
  bool stopped = false;

  std::uint64_t queued = 0;
  std::uint64_t live_messages = 0;
  std::uint64_t active = 0;
  std::uint64_t dsns = 0;
  std::uint64_t admission_refusals = 0;

  // ---- time ----------------------------------------------------------------------------------
  // Due times are kept in 100 ms ticks since the epoch: 32 bits last 13 years of uptime, and a
  // 1 s retry-after is kept to within 100 ms (whole seconds could add almost a second).
  static constexpr std::int64_t kTickNs = 100'000'000;
  std::uint32_t DueSeconds(MonoTime t) const {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t - epoch).count();
    return ns < 0 ? 0u : static_cast<std::uint32_t>(ns / kTickNs);
  }
  std::uint32_t DueCeil(MonoTime t) const {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t - epoch).count();
    if (ns <= 0) return 0;
    return static_cast<std::uint32_t>((ns + kTickNs - 1) / kTickNs);
  }
  MonoTime FromDue(std::uint32_t due) const {
    return epoch + std::chrono::nanoseconds(static_cast<std::int64_t>(due) * kTickNs);
  }

  // ---- messages ------------------------------------------------------------------------------
  std::uint32_t AllocMessage() {
    if (free_messages != kNoMessage) {
      std::uint32_t index = free_messages;
      free_messages = messages[index].next_free;
      messages[index] = MessageRecord{};
      return index;
    }
    messages.emplace_back();
    return static_cast<std::uint32_t>(messages.size() - 1);
  }
  void FreeMessage(std::uint32_t index) {
    messages[index] = MessageRecord{};
    messages[index].next_free = free_messages;
    free_messages = index;
    --live_messages;
  }

  // ---- queues --------------------------------------------------------------------------------
  // The queue destination of a recipient domain, or nullptr while its mx-rollup decision waits
  // for DNS (ResolveRollup() has then been started).
  const Destination* DestinationFor(const std::string& domain, MonoTime now) {
    auto it = destination_cache.find(domain);
    if (it != destination_cache.end() && now < it->second.expires) return &it->second;
    if (pending_domains.count(domain) != 0) return nullptr;
    EffectiveDomainPolicy policy = MergeDomainPolicy(*config, domain);
    if (policy.mx_rollup.empty() || policy.mx_rollup == domain) {
      // No rollup, or the rollup's own name: its queue is named after it without asking DNS.
      Destination d{policy.mx_rollup.empty() ? domain : policy.mx_rollup, domain, MonoTime::max()};
      return &(destination_cache[domain] = std::move(d));
    }
    ResolveRollup(domain, policy.mx_rollup, now);
    return nullptr;
  }

  // Asks DNS for the MX hosts of `domain` and (unless known) of the rollup's reference `name`.
  void ResolveRollup(const std::string& domain, const std::string& name, MonoTime now) {
    PendingDomain& pending = pending_domains[domain];
    pending.rollup = name;
    deliverer.ResolveMxHosts(domain, [this, domain](MxHostsAnswer answer) {
      completions.push_back([this, domain, answer = std::move(answer)]() mutable {
        auto it = pending_domains.find(domain);
        if (it == pending_domains.end()) return;
        it->second.answer = std::move(answer);
        DecideRollup(domain);
      });
      Notify();
    });
    auto [it, created] = rollups.try_emplace(name);
    Rollup& rollup = it->second;
    const bool stale =
        !created && rollup.state != Rollup::State::kResolving && now >= rollup.expires;
    if (stale) rollup = Rollup{};
    if (rollup.state == Rollup::State::kResolving) rollup.waiting.push_back(domain);
    if (!created && !stale) return;
    deliverer.ResolveMxHosts(name, [this, name](MxHostsAnswer answer) {
      completions.push_back([this, name, answer = std::move(answer)]() mutable {
        OnRollupHosts(name, std::move(answer));
      });
      Notify();
    });
  }

  void OnRollupHosts(const std::string& name, MxHostsAnswer answer) {
    Rollup& rollup = rollups[name];
    const MonoTime now = clock.Now().mono;
    if (answer.status == ConnectStatus::kOk) {
      rollup.state = Rollup::State::kKnown;
      rollup.hosts = std::move(answer.hosts);
      rollup.mx_domain = name;
      rollup.expires = now + kRollupTtl;
    } else if (answer.status == ConnectStatus::kPermFail) {
      // Not a mail domain (e.g. "mx-rollup google"): the first member that resolves claims it.
      rollup.state = Rollup::State::kNoReference;
      rollup.expires = now + kRollupTtl;
    } else {
      rollup.state = Rollup::State::kUnavailable;
      rollup.expires = now + kRollupRetry;
      OUTPOST_LOG(kWarning, "queue") << "mx-rollup " << name << ": " << answer.error
                                     << "; its domains use their own queues for now";
    }
    std::vector<std::string> waiting;
    waiting.swap(rollup.waiting);
    for (const std::string& domain : waiting) DecideRollup(domain);
  }

  // Decides `domain`'s queue once both MX answers are in, and moves its parked recipients there.
  void DecideRollup(const std::string& domain) {
    auto pit = pending_domains.find(domain);
    if (pit == pending_domains.end() || !pit->second.answer) return;
    auto rit = rollups.find(pit->second.rollup);
    if (rit == rollups.end() || rit->second.state == Rollup::State::kResolving) return;
    Rollup& rollup = rit->second;
    const MxHostsAnswer& own = *pit->second.answer;
    const MonoTime now = clock.Now().mono;
    Destination d{domain, domain, now + kRollupTtl};
    if (own.status != ConnectStatus::kOk || rollup.state == Rollup::State::kUnavailable) {
      if (own.status == ConnectStatus::kTempFail || rollup.state == Rollup::State::kUnavailable) {
        d.expires = now + kRollupRetry;
      }
    } else if (rollup.state == Rollup::State::kNoReference && rollup.hosts.empty()) {
      rollup.hosts = own.hosts;  // the first member to resolve defines the rollup's MX set
      rollup.mx_domain = domain;
      d.name = pit->second.rollup;
      d.mx_domain = domain;
    } else if (own.hosts == rollup.hosts) {
      d.name = pit->second.rollup;
      d.mx_domain = rollup.mx_domain;
    }
    if (d.name != domain) {
      OUTPOST_LOG(kInfo, "queue") << domain << ": MX hosts match mx-rollup " << d.name
                                  << "; sharing its queue";
    }
    std::vector<ParkedRecipient> parked = std::move(pit->second.parked);
    pending_domains.erase(pit);
    Destination& dest = destination_cache[domain] = std::move(d);
    const MonoTime due_now = clock.Now().mono;
    for (const ParkedRecipient& p : parked) {
      if (messages[p.msg].remaining == 0) continue;  // cannot happen: parked ones are pending
      Queue& q = FindOrCreateQueue(QueueKey{dest.name, p.vmta}, dest.mx_domain);
      if (p.retry) {
        q.retry.push_back(RetryEntry{DueSeconds(due_now), p.msg, p.rcpt, 0});
        std::push_heap(q.retry.begin(), q.retry.end(), RetryLater());
      } else {
        q.fresh.push_back(FreshEntry{p.msg, p.rcpt});
      }
      ++q.stats.recipients;
      if (++pair_counts[(static_cast<std::uint64_t>(p.msg) << 32) | q.index] == 1) {
        ++q.stats.messages;
      }
      MarkDirty(q);
    }
  }

  void ApplyPolicy(Queue& q) {
    q.policy = MergeDomainPolicy(*config, q.policy_domain);
    q.weight = static_cast<std::uint32_t>(std::clamp(q.policy.queue_priority, 0, 100)) + 1;
    const bool backoff = q.mode == QueueMode::kBackoff;
    q.connect_rate.SetRate(backoff ? q.policy.backoff_max_connect_rate : q.policy.max_connect_rate);
    q.msg_rate.SetRate(backoff ? q.policy.backoff_max_msg_rate : q.policy.max_msg_rate);
    for (SourceSlot& s : q.sources) s.msg_rate.SetRate(q.policy.source_ip_max_msg_rate);
  }

  // `mx_domain`: the MX lookup target, whose policy the queue also uses.
  Queue& FindOrCreateQueue(const QueueKey& key, const std::string& mx_domain) {
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
    q->policy = MergeDomainPolicy(*config, mx_domain);
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

  void MarkDirty(Queue& q) {
    if (q.dirty) return;
    q.dirty = true;
    dirty.push_back(q.index);
  }

  void ScheduleWake(Queue& q, MonoTime t) {
    if (q.next_wake && *q.next_wake <= t) return;
    q.next_wake = t;
    wake_heap.emplace_back(t, q.index);
    std::push_heap(wake_heap.begin(), wake_heap.end(), std::greater<>());
  }

  void Notify() {
    if (wake && !in_run) wake();
  }

  // ---- intake --------------------------------------------------------------------------------
  void Intake(spool::SpoolId id, const spool::Envelope& env, std::uint64_t size,
              const std::vector<bool>* done, bool as_retry) {
    const MonoTime now = clock.Now().mono;
    std::uint32_t m = AllocMessage();
    MessageRecord& rec = messages[m];
    rec.id = id;
    rec.time_queued = static_cast<std::uint32_t>(std::max<std::int64_t>(0, env.time_queued));
    rec.size = static_cast<std::uint32_t>(std::min<std::uint64_t>(size, 0xffffffffu));
    if (env.mail_from.empty()) rec.flags |= kNullSender;
    ++live_messages;

    VmtaChoice choice = selector.Select(env.vmta);
    std::vector<std::pair<std::uint32_t, std::uint32_t>> per_queue;  // queue -> count
    std::uint32_t pending = 0;
    bool parked = false;
    for (std::uint32_t i = 0; i < env.recipients.size(); ++i) {
      if (done != nullptr && i < done->size() && (*done)[i]) continue;
      std::string domain = RecipientDomain(env.recipients[i]);
      if (domain.empty()) domain = options.host_name;
      const Destination* dest = DestinationFor(domain, now);
      if (dest == nullptr) {  // waits for the mx-rollup decision (DecideRollup)
        pending_domains[domain].parked.push_back(ParkedRecipient{m, i, as_retry, choice.vmta});
        ++pending;
        parked = true;
        continue;
      }
      Queue& q = FindOrCreateQueue(QueueKey{dest->name, choice.vmta}, dest->mx_domain);
      if (as_retry) {
        q.retry.push_back(RetryEntry{DueSeconds(now), m, i, 0});
        std::push_heap(q.retry.begin(), q.retry.end(), RetryLater());
      } else {
        q.fresh.push_back(FreshEntry{m, i});
      }
      ++q.stats.recipients;
      ++pending;
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
      spool.MarkMessageDone(id);
      FreeMessage(m);
      return;
    }
    if (per_queue.size() == 1 && !parked) {
      messages[m].flags |= kSingleQueue;
    } else {
      for (const auto& [queue, count] : per_queue) {
        pair_counts[(static_cast<std::uint64_t>(m) << 32) | queue] = count;
      }
    }
    Notify();
  }

  // ---- final outcomes ------------------------------------------------------------------------
  // Forgets recipients that have their final record (and, if mark_spool, marks them done in the
  // spool; the accounting log must have been flushed before).
  void Finalize(Queue& q, std::uint32_t m, const std::vector<std::uint32_t>& rcpts,
                bool mark_spool) {
    MessageRecord& rec = messages[m];
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
    if (rec.remaining == 0) {
      if (marks) completion.Mark(*marks, rec.id, Completion::kWholeMessage);
      FreeMessage(m);
    }
  }

  Outcome BaseOutcome(OutcomeKind kind, const Queue& q, const spool::Envelope& env,
                      const std::string& rcpt, std::int64_t now_unix, std::uint64_t size) const {
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

  static void FillConnection(Outcome& o, const ConnectOutcome& info) {
    o.remote_mta = info.remote_mta;
    o.local_address = info.local_address;
    o.remote_address = info.remote_address;
    o.esmtp_available = info.esmtp_available;
  }

  // A recipient that failed for good in one attempt, with what its DSN says about it.
  struct FailedRecipient {
    std::uint32_t rcpt;
    delivery::DsnRecipient report;
  };

  // Writes the b records of `rcpts` of message `m` expiring now (bounceCat message-expired) and
  // adds them to `failed` for the attempt's DSN, which says why they were deferred: `why[i]` for
  // rcpts[i] when given (deferred in this attempt), else the queue's last deferral. The caller
  // flushes.
  void WriteExpired(Queue& q, std::uint32_t m, const std::vector<std::uint32_t>& rcpts,
                    const spool::Envelope& env, std::int64_t now_unix,
                    std::vector<FailedRecipient>& failed,
                    const std::vector<LastDeferral>* why = nullptr) {
    const std::string after = FormatDuration(q.policy.bounce_after);
    for (std::size_t i = 0; i < rcpts.size(); ++i) {
      const std::uint32_t r = rcpts[i];
      const std::string& address = r < env.recipients.size() ? env.recipients[r] : std::string();
      Outcome o = BaseOutcome(OutcomeKind::kExpired, q, env, address, now_unix, messages[m].size);
      o.spool_id = messages[m].id;
      o.expired_after = after;
      o.category = delivery::BounceCategory::kMessageExpired;
      completion.Write(o);
      ++q.stats.bounced;
      ++q.stats.expired;
      const LastDeferral& last = why != nullptr && i < why->size() ? (*why)[i] : q.last_deferral;
      delivery::DsnRecipient d;
      d.address = address;
      d.status = "5.4.7";
      d.diagnostic = last.diagnostic;
      d.remote_mta = last.remote_mta;
      d.expired_after = after;
      failed.push_back(FailedRecipient{r, std::move(d)});
    }
    OUTPOST_LOG(kInfo, "queue") << q.name << " " << env.id << ": " << rcpts.size()
                                << " recipient(s) expired";
  }

  // Bounces `rcpts` of message `m` as expired: b records, flush, then the DSN (BounceWithDsn).
  void Expire(Queue& q, std::uint32_t m, std::vector<std::uint32_t> rcpts,
              const spool::Envelope* known_env, std::int64_t now_unix) {
    spool::Envelope env;
    if (known_env != nullptr) {
      env = *known_env;
    } else if (!spool.ReadEnvelope(messages[m].id, env)) {
      DropUnreadable(q, m, rcpts);
      return;
    }
    std::vector<FailedRecipient> failed;
    WriteExpired(q, m, rcpts, env, now_unix, failed);
    completion.Flush();
    BounceWithDsn(q, m, std::move(failed), env, now_unix);
  }

  // The final step for recipients of message `m` that failed for good in one attempt (a 5xx, a
  // permanent DNS failure, expiry), whose b records are written and flushed: one DSN (RFC 3464)
  // to the sender lists them all; it is committed to the spool as a new null-sender message and
  // only once it is durable are the recipients marked done. A DSN that cannot be committed leaves
  // them in the spool (a restart retries them; logged). No DSN for the null sender: that covers
  // DSNs themselves (sent from <>), so a bounce never loops.
  void BounceWithDsn(Queue& q, std::uint32_t m, std::vector<FailedRecipient> failed,
                     const spool::Envelope& env, std::int64_t now_unix) {
    std::vector<std::uint32_t> rcpts;
    rcpts.reserve(failed.size());
    for (const FailedRecipient& f : failed) rcpts.push_back(f.rcpt);
    if (env.mail_from.empty()) {
      Finalize(q, m, rcpts, true);
      return;
    }
    delivery::DsnInput input;
    input.reporting_mta = options.host_name;
    input.queue_id = env.id;
    input.original_envelope_id = env.env_id;
    input.original_sender = env.mail_from;
    input.arrival_time = env.time_queued;
    for (FailedRecipient& f : failed) input.recipients.push_back(std::move(f.report));
    std::string data;
    if (spool.ReadData(messages[m].id, data)) input.original_headers = HeaderSection(data);
    spool::SpoolMessage dsn;
    dsn.envelope.id = spool::NewQueueId();
    dsn.envelope.time_queued = now_unix;
    dsn.envelope.mail_from = "";
    dsn.envelope.recipients = {env.mail_from};
    dsn.envelope.vmta = env.vmta;
    dsn.envelope.source_helo = options.host_name;
    dsn.data = delivery::BuildDsn(input, now_unix);
    const std::uint64_t dsn_size = dsn.data.size();
    spool::Envelope dsn_env = dsn.envelope;
    const std::uint32_t queue_index = q.index;
    const std::string original_id = env.id;
    // Until the DSN is durable the failed recipients stay pending (message record alive).
    spool.Commit(std::move(dsn), [this, queue_index, m, rcpts, dsn_env, dsn_size, original_id](
                                     spool::CommitStatus status, spool::SpoolId dsn_id) {
      post([this, queue_index, m, rcpts, dsn_env, dsn_size, original_id, status, dsn_id] {
        Queue& q = *queues[queue_index];
        if (status == spool::CommitStatus::kOk) {
          ++dsns;
          Finalize(q, m, rcpts, true);
          Intake(dsn_id, dsn_env, dsn_size, nullptr, false);
        } else {
          OUTPOST_LOG(kError, "queue")
              << q.name << " " << original_id << ": cannot commit the DSN ("
              << spool::CommitStatusName(status)
              << "); the failed recipients stay in the spool and are retried after a restart";
          Finalize(q, m, rcpts, false);
        }
        Notify();
      });
    });
  }

  // Deletes every queued (fresh or scheduled) recipient of `q`: b records, one flush, then the
  // spool marks. Recipients in a transaction are not touched here (see Queue::deletions).
  std::uint64_t DeleteQueued(Queue& q, const Instant& now) {
    std::vector<std::pair<std::uint32_t, std::uint32_t>> all;  // (msg, rcpt)
    all.reserve(q.fresh.size() + q.retry.size());
    for (const FreshEntry& e : q.fresh) all.emplace_back(e.msg, e.rcpt);
    for (const RetryEntry& e : q.retry) all.emplace_back(e.msg, e.rcpt);
    std::deque<FreshEntry>().swap(q.fresh);
    std::vector<RetryEntry>().swap(q.retry);
    ++q.deletions;
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
      for (std::uint32_t r : rcpts) {
        // An operator's delete (PowerMTA's `delete --queue`): no DSN is sent.
        Outcome o = BaseOutcome(OutcomeKind::kDeleted, q, env,
                                r < env.recipients.size() ? env.recipients[r] : "",
                                now.unix_seconds(), messages[m].size);
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
    OUTPOST_LOG(kInfo, "queue") << q.name << ": " << deleted << " recipient(s) deleted by operator";
    MarkDirty(q);
    return deleted;
  }

  void DropUnreadable(Queue& q, std::uint32_t m, const std::vector<std::uint32_t>& rcpts) {
    OUTPOST_LOG(kError, "queue") << q.name << ": spool entry " << messages[m].id.segment << ":"
                                 << messages[m].id.offset << " unreadable; " << rcpts.size()
                                 << " recipient(s) left in the spool for recovery";
    Finalize(q, m, rcpts, false);
  }

  // ---- pumping -------------------------------------------------------------------------------
  bool RetryDue(const Queue& q, std::uint32_t now_due) const {
    return !q.retry.empty() && q.retry.front().due <= now_due;
  }

  bool HasReadyWork(const Queue& q, std::uint32_t now_due) const {
    return !q.fresh.empty() || RetryDue(q, now_due);
  }

  bool Expired(const Queue& q, std::uint32_t m, std::int64_t now_unix) const {
    return now_unix >= ExpiresAt(messages[m].time_queued, q.policy);
  }

  // Takes one transaction's recipients (at most `limit`) from the fresh or the due-retry tier,
  // alternating; expired recipients met on the way are bounced.
  std::vector<BatchEntry> FormBatch(Queue& q, const Instant& now, std::uint32_t limit) {
    const std::uint32_t now_due = DueSeconds(now.mono);
    const std::int64_t now_unix = now.unix_seconds();
    std::vector<BatchEntry> batch;
    for (int guard = 0; guard < 1000; ++guard) {
      const bool fresh_ok = !q.fresh.empty();
      const bool retry_ok = RetryDue(q, now_due);
      if (!fresh_ok && !retry_ok) return batch;
      const bool use_fresh = fresh_ok && (q.prefer_fresh || !retry_ok);
      std::uint32_t m;
      std::vector<BatchEntry> taken;
      if (use_fresh) {
        m = q.fresh.front().msg;
        while (!q.fresh.empty() && q.fresh.front().msg == m) {
          taken.push_back(BatchEntry{m, q.fresh.front().rcpt, 0});
          q.fresh.pop_front();
          if (taken.size() >= limit && !Expired(q, m, now_unix)) break;
        }
      } else {
        m = q.retry.front().msg;
        while (!q.retry.empty() && q.retry.front().msg == m && q.retry.front().due <= now_due) {
          const RetryEntry& e = q.retry.front();
          taken.push_back(BatchEntry{m, e.rcpt, e.attempts});
          std::pop_heap(q.retry.begin(), q.retry.end(), RetryLater());
          q.retry.pop_back();
          if (taken.size() >= limit && !Expired(q, m, now_unix)) break;
        }
      }
      if (Expired(q, m, now_unix)) {
        std::vector<std::uint32_t> rcpts;
        for (const BatchEntry& e : taken) rcpts.push_back(e.rcpt);
        Expire(q, m, std::move(rcpts), nullptr, now_unix);
        continue;
      }
      q.prefer_fresh = !use_fresh;
      return taken;
    }
    return batch;
  }

  // Bounces every expired recipient of the queue (used while the queue cannot connect).
  void SweepExpired(Queue& q, const Instant& now) {
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
      Expire(q, m, std::move(rcpts), nullptr, now_unix);
    }
  }

  // Bounces the queued recipients of `domain` (it cannot receive mail: NXDOMAIN, null MX). In a
  // rolled-up queue the other domains' recipients stay; if `domain` was the queue's MX lookup
  // target, one of theirs becomes it. Envelopes are read from the spool to learn the domains.
  void BounceDomain(Queue& q, const std::string& domain, const ConnectOutcome& outcome,
                    const Instant& now) {
    std::unordered_map<std::uint32_t, spool::Envelope> envelopes;
    std::vector<std::uint32_t> unreadable;
    auto envelope_of = [&](std::uint32_t m) -> const spool::Envelope* {
      auto it = envelopes.find(m);
      if (it != envelopes.end()) return &it->second;
      spool::Envelope env;
      if (!spool.ReadEnvelope(messages[m].id, env)) return nullptr;
      return &(envelopes[m] = std::move(env));
    };
    std::string other_domain;
    auto bounces = [&](std::uint32_t m, std::uint32_t r) {
      const spool::Envelope* env = envelope_of(m);
      if (env == nullptr) return true;  // dropped below, left in the spool for recovery
      std::string d = r < env->recipients.size() ? RecipientDomain(env->recipients[r]) : "";
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
      std::vector<FailedRecipient> failed;
      for (std::uint32_t r : rcpts) {
        const std::string address = r < env.recipients.size() ? env.recipients[r] : "";
        Outcome o = BaseOutcome(OutcomeKind::kDomainFailed, q, env, address, now.unix_seconds(),
                                messages[m].size);
        o.spool_id = messages[m].id;
        o.error = outcome.error;
        o.category = delivery::BounceCategory::kBadDomain;
        completion.Write(o);
        ++q.stats.bounced;
        // No remote reply: the DSN says what DNS said, without a Diagnostic-Code of type smtp.
        delivery::DsnRecipient d;
        d.address = address;
        d.status = "5.1.2";
        d.diagnostic = "X-Outpost; " + outcome.error;
        failed.push_back(FailedRecipient{r, std::move(d)});
      }
      groups.emplace_back(m, std::move(failed));
    }
    completion.Flush();
    for (auto& [m, failed] : groups) {
      BounceWithDsn(q, m, std::move(failed), envelopes[m], now.unix_seconds());
    }
  }

  int MaxSmtpOut(const Queue& q) const {
    return q.mode == QueueMode::kBackoff ? q.policy.backoff_max_smtp_out : q.policy.max_smtp_out;
  }
  int MaxMsgPerConnection(const Queue& q) const {
    return q.mode == QueueMode::kBackoff ? q.policy.backoff_max_msg_per_connection
                                         : q.policy.max_msg_per_connection;
  }

  void ChangeMode(Queue& q, QueueMode mode, MonoTime now, const std::string& why) {
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

  // Starts closing connection `i`. It keeps its place in q.connections (and its source's count)
  // until the Deliverer says the socket is closed, so max-smtp-out and source-ip-max-smtp-out
  // cover QUIT and close in progress. A connection still opening is forgotten at once
  // (OnConnected closes it when it arrives; only Stop() does this).
  void CloseConnection(Queue& q, std::size_t i) {
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
      completions.push_back([this, queue_index, serial] {
        Queue& closed = *queues[queue_index];
        std::size_t index = 0;
        if (FindConnection(closed, serial, &index) != nullptr) ForgetConnection(closed, index);
        MarkDirty(closed);
      });
      Notify();
    });
  }

  void ForgetConnection(Queue& q, std::size_t i) {
    --q.sources[q.connections[i].source].connections;
    q.connections[i] = std::move(q.connections.back());
    q.connections.pop_back();
  }

  void Pump(Queue& q) {
    LeaveWaiting(q);
    if (stopped) return;
    const Instant now = clock.Now();
    const std::uint32_t now_due = DueSeconds(now.mono);
    std::optional<MonoTime> wake_at;
    auto want_wake = [&](MonoTime t) {
      if (!wake_at || t < *wake_at) wake_at = t;
    };

    if (q.mode == QueueMode::kBackoff && q.policy.backoff_to_normal_after) {
      MonoTime until = q.backoff_since + *q.policy.backoff_to_normal_after;
      if (now.mono >= until) {
        ChangeMode(q, QueueMode::kNormal, now.mono,
                   "backoff-to-normal-after " + FormatDuration(*q.policy.backoff_to_normal_after));
      } else {
        want_wake(until);
      }
    }

    const bool held = q.paused || now.mono < q.hold_until;
    if (!q.paused && now.mono < q.hold_until) want_wake(q.hold_until);
    const std::uint32_t max_rcpt = static_cast<std::uint32_t>(q.policy.max_rcpt_per_transaction);

    for (int guard = 0; !held && guard < 10000; ++guard) {
      if (!HasReadyWork(q, now_due)) break;
      if (active >= options.max_active_recipients || YieldsActiveSet(q)) {
        if (!q.waiting_for_active) {
          q.waiting_for_active = true;
          waiting_for_active.push_back(q.index);
        }
        break;
      }
      // An idle connection: send on it if the rates allow.
      Connection* idle = nullptr;
      for (Connection& c : q.connections) {
        if (c.state == ConnState::kIdle) {
          idle = &c;
          break;
        }
      }
      if (idle != nullptr) {
        SourceSlot& src = q.sources[idle->source];
        std::uint64_t allowance = q.msg_rate.Available(now.mono, max_rcpt);
        allowance = src.msg_rate.Available(now.mono, allowance);
        if (allowance == 0) {
          want_wake(std::max(q.msg_rate.NextAllowed(now.mono), src.msg_rate.NextAllowed(now.mono)));
          break;
        }
        std::vector<BatchEntry> batch =
            FormBatch(q, now,
                      static_cast<std::uint32_t>(
                          std::min<std::uint64_t>(allowance, options.max_active_recipients)));
        if (batch.empty()) continue;
        Served(q, batch.size());
        q.msg_rate.Take(now.mono, batch.size());
        src.msg_rate.Take(now.mono, batch.size());
        StartSend(q, *idle, std::move(batch), now);
        continue;
      }
      // No idle connection: open one if the limits allow and the work warrants it.
      const int open = static_cast<int>(q.connections.size());
      if (open >= MaxSmtpOut(q)) break;
      int connecting = 0;
      for (const Connection& c : q.connections) connecting += c.state == ConnState::kConnecting;
      const std::uint64_t pending = q.fresh.size() + (RetryDue(q, now_due) ? q.retry.size() : 0);
      // Never more connections opening than recipients waiting for one.
      if (static_cast<std::uint64_t>(connecting) >= pending) break;
      std::optional<std::uint32_t> source;
      for (std::size_t k = 0; k < q.sources.size(); ++k) {
        std::uint32_t s = static_cast<std::uint32_t>((q.next_source + k) % q.sources.size());
        if (q.policy.source_ip_max_smtp_out <= 0 ||
            q.sources[s].connections < q.policy.source_ip_max_smtp_out) {
          source = s;
          break;
        }
      }
      if (!source) break;
      if (!q.connect_rate.TryTake(now.mono)) {
        want_wake(q.connect_rate.NextAllowed(now.mono));
        break;
      }
      q.next_source = (*source + 1) % static_cast<std::uint32_t>(q.sources.size());
      StartConnect(q, *source);
    }

    // Idle connections with nothing to send are closed after the idle timeout.
    const bool work = !held && HasReadyWork(q, now_due);
    for (std::size_t i = 0; i < q.connections.size();) {
      Connection& c = q.connections[i];
      if (c.state == ConnState::kIdle && !work) {
        MonoTime deadline = c.idle_since + options.idle_connection_timeout;
        if (now.mono >= deadline || q.paused) {
          CloseConnection(q, i);
          continue;
        }
        want_wake(deadline);
      }
      ++i;
    }
    if (!q.paused && !q.retry.empty() && q.retry.front().due > now_due) {
      want_wake(FromDue(q.retry.front().due));
    }
    if (wake_at) ScheduleWake(q, *wake_at);
  }

  void StartConnect(Queue& q, std::uint32_t source) {
    Connection c;
    c.serial = next_serial++;
    c.domain = q.mx_domain;
    c.source = source;
    c.state = ConnState::kConnecting;
    ++q.sources[source].connections;
    q.connections.push_back(c);
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
    const std::uint32_t queue_index = q.index;
    const std::uint64_t serial = c.serial;
    deliverer.Connect(request, [this, queue_index, serial](ConnectOutcome outcome) {
      completions.push_back([this, queue_index, serial, outcome = std::move(outcome)]() mutable {
        OnConnected(*queues[queue_index], serial, std::move(outcome));
      });
      Notify();
    });
  }

  Connection* FindConnection(Queue& q, std::uint64_t serial, std::size_t* index = nullptr) {
    for (std::size_t i = 0; i < q.connections.size(); ++i) {
      if (q.connections[i].serial == serial) {
        if (index) *index = i;
        return &q.connections[i];
      }
    }
    return nullptr;
  }

  void OnConnected(Queue& q, std::uint64_t serial, ConnectOutcome outcome) {
    std::size_t index = 0;
    Connection* c = FindConnection(q, serial, &index);
    const Instant now = clock.Now();
    if (c == nullptr) {  // forgotten (stop); nothing to do but close
      if (outcome.status == ConnectStatus::kOk) deliverer.Close(outcome.id, [] {});
      return;
    }
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
    ++q.stats.connect_failures;
    q.stats.last_error = outcome.error;
    if (outcome.status == ConnectStatus::kPermFail) {
      OUTPOST_LOG(kWarning, "queue")
          << q.name << ": " << outcome.error << "; bouncing " << failed_domain << " recipients";
      BounceDomain(q, failed_domain, outcome, now);
      MarkDirty(q);
      return;
    }
    // Temporary: a tq record; hold the queue when nothing of it works.
    Outcome failure;
    failure.kind = OutcomeKind::kConnectionFailed;
    failure.time_logged = now.unix_seconds();
    failure.queue = q.name;
    failure.vmta = q.key.vmta;
    failure.reply = outcome.reply;
    failure.error = outcome.error;
    failure.category = outcome.reply.code ? CategoryOf(classifier->BounceCategory(outcome.reply))
                                          : delivery::BounceCategory::kNoAnswerFromHost;
    failure.remote_mta = outcome.remote_mta;
    failure.local_address = outcome.local_address;
    failure.remote_address = outcome.remote_address;
    completion.Write(failure);
    completion.Flush();
    if (outcome.reply.code != 0) {
      q.last_deferral = DeferralOf(outcome.reply, outcome.remote_mta);
    } else {
      q.last_deferral.diagnostic = "X-Outpost; " + outcome.error;
      q.last_deferral.remote_mta = RemoteHost(outcome.remote_mta);
    }
    if (outcome.reply.code != 0) CheckPatterns(q, {outcome.reply}, now.mono);
    bool working = false;
    for (const Connection& other : q.connections) {
      working |= other.state == ConnState::kIdle || other.state == ConnState::kBusy;
    }
    if (!working) {
      q.hold_until = now.mono + RetryDelay(1, q.policy, q.mode);
      OUTPOST_LOG(kInfo, "queue") << q.name << ": connection failed (" << outcome.error
                                  << "); retrying in "
                                  << FormatDuration(RetryDelay(1, q.policy, q.mode));
      SweepExpired(q, now);
    }
    MarkDirty(q);
  }

  void CheckPatterns(Queue& q, const std::vector<delivery::Reply>& replies, MonoTime now) {
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

  void StartSend(Queue& q, Connection& c, std::vector<BatchEntry> batch, const Instant& now) {
    auto flight = std::make_shared<InFlight>();
    flight->queue = q.index;
    flight->deletions = q.deletions;
    flight->connection = c.serial;
    const std::uint32_t m = batch.front().msg;
    auto data = std::make_shared<std::string>();
    if (!spool.ReadEnvelope(messages[m].id, flight->envelope) ||
        !spool.ReadData(messages[m].id, *data)) {
      std::vector<std::uint32_t> rcpts;
      for (const BatchEntry& e : batch) rcpts.push_back(e.rcpt);
      DropUnreadable(q, m, rcpts);
      return;
    }
    (void)now;
    flight->size = data->size();
    flight->entries = std::move(batch);
    BatchRequest request;
    request.mail_from = flight->envelope.mail_from;
    for (const BatchEntry& e : flight->entries) {
      request.recipients.push_back(e.rcpt < flight->envelope.recipients.size()
                                       ? flight->envelope.recipients[e.rcpt]
                                       : std::string());
    }
    request.data = std::move(data);
    request.body_8bit = flight->envelope.body_8bit;
    request.env_id = flight->envelope.env_id;
    active += flight->entries.size();
    c.state = ConnState::kBusy;
    deliverer.Send(c.id, std::move(request), [this, flight](BatchOutcome outcome) {
      completions.push_back([this, flight, outcome = std::move(outcome)]() mutable {
        OnSent(*flight, std::move(outcome));
      });
      Notify();
    });
  }

  void OnSent(InFlight& flight, BatchOutcome outcome) {
    Queue& q = *queues[flight.queue];
    const Instant now = clock.Now();
    const std::int64_t now_unix = now.unix_seconds();
    active -= std::min<std::uint64_t>(active, flight.entries.size());
    std::size_t conn_index = 0;
    Connection* c = FindConnection(q, flight.connection, &conn_index);
    static const ConnectOutcome kNoInfo;
    const ConnectOutcome& info = c != nullptr ? c->info : kNoInfo;

    std::vector<delivery::Reply> replies;
    replies.reserve(flight.entries.size());
    for (std::size_t i = 0; i < flight.entries.size(); ++i) {
      replies.push_back(outcome.result.OutcomeFor(i));
    }
    std::vector<delivery::Reply> negative;
    for (const delivery::Reply& r : replies) {
      if (!r.Positive() && r.code != 0) negative.push_back(r);
    }
    CheckPatterns(q, negative, now.mono);  // before rescheduling: backoff-retry-after applies

    const std::uint32_t m = flight.entries.front().msg;
    std::vector<std::uint32_t> finals;      // delivered (or deleted): done after the flush
    std::vector<FailedRecipient> failed;    // 5xx: done once their DSN is durable
    std::vector<std::uint32_t> expired;     // deferred past bounce-after: in that DSN too
    std::vector<LastDeferral> expired_why;  // why each of `expired` was deferred
    bool delivered = false;
    for (std::size_t i = 0; i < flight.entries.size(); ++i) {
      const BatchEntry& e = flight.entries[i];
      const delivery::Reply& reply = replies[i];
      const std::string& address =
          e.rcpt < flight.envelope.recipients.size() ? flight.envelope.recipients[e.rcpt] : "";
      const std::uint8_t attempts = static_cast<std::uint8_t>(std::min<int>(e.attempts + 1, 255));
      OutcomeKind kind = reply.Positive()    ? OutcomeKind::kDelivered
                         : reply.Permanent() ? OutcomeKind::kBounced
                                             : OutcomeKind::kDeferred;
      Outcome o = BaseOutcome(kind, q, flight.envelope, address, now_unix, flight.size);
      o.spool_id = messages[m].id;
      o.attempts = attempts;
      o.reply = reply;
      FillConnection(o, info);
      if (kind == OutcomeKind::kDelivered) {
        o.category = delivery::BounceCategory::kSuccess;
        ++q.stats.delivered;
        delivered = true;
        finals.push_back(e.rcpt);
      } else if (kind == OutcomeKind::kBounced) {
        o.category = CategoryOf(classifier->BounceCategory(reply));
        ++q.stats.bounced;
        failed.push_back(FailedRecipient{e.rcpt, DsnReport(address, reply, info)});
      } else if (flight.deletions != q.deletions) {
        // Deferred, but its queue was deleted while it was in flight: deleted now, as the
        // queued ones were (one record, no retry).
        o.kind = OutcomeKind::kDeleted;
        o.category = delivery::BounceCategory::kOther;
        ++q.stats.bounced;
        finals.push_back(e.rcpt);
      } else {
        o.category = reply.code == 0 ? delivery::BounceCategory::kBadConnection
                                     : CategoryOf(classifier->BounceCategory(reply));
        ++q.stats.deferred;
        q.stats.last_error = reply.code == 0 ? "connection lost" : reply.Full();
        q.last_deferral = DeferralOf(reply, info.remote_mta);
        if (Expired(q, m, now_unix)) {
          expired.push_back(e.rcpt);
          expired_why.push_back(q.last_deferral);
        } else {
          MonoTime due = now.mono + RetryDelay(attempts, q.policy, q.mode);
          // Never schedule past expiry: the recipient is then bounced when it comes due.
          const std::int64_t left = ExpiresAt(messages[m].time_queued, q.policy) - now_unix;
          due = std::min(due, now.mono + std::chrono::seconds(std::max<std::int64_t>(left, 0)));
          q.retry.push_back(RetryEntry{DueCeil(due), m, e.rcpt, attempts});
          std::push_heap(q.retry.begin(), q.retry.end(), RetryLater());
        }
      }
      completion.Write(o);
    }
    if (!expired.empty()) {
      WriteExpired(q, m, expired, flight.envelope, now_unix, failed, &expired_why);
    }
    completion.Flush();  // once per transaction, before any recipient leaves the spool
    if (!finals.empty()) Finalize(q, m, finals, true);
    // One DSN per message and attempt, for its refused and its expired recipients.
    if (!failed.empty()) BounceWithDsn(q, m, std::move(failed), flight.envelope, now_unix);

    if (delivered && q.mode == QueueMode::kBackoff && q.policy.backoff_to_normal_after_delivery) {
      ChangeMode(q, QueueMode::kNormal, now.mono, "backoff-to-normal-after-delivery");
    }
    if (c != nullptr) {
      ++c->messages;
      const int limit = MaxMsgPerConnection(q);
      if (!outcome.connection_usable || outcome.result.connection_lost ||
          (limit > 0 && c->messages >= static_cast<std::uint32_t>(limit)) || stopped) {
        CloseConnection(q, conn_index);
      } else {
        c->state = ConnState::kIdle;
        c->idle_since = now.mono;
      }
    }
    MarkDirty(q);  // capacity freed in the active set: FeedActiveSet() gives the turns
  }

  // ---- the active set's weighted fair share ---------------------------------------------------
  // Start-time fair queuing over the queues that want a share of the active set. A queue that
  // puts n recipients in a transaction advances its pass by n * kPassScale / weight; while others
  // wait, the queue with the lowest pass goes first (a queue whose pass is higher yields, see
  // YieldsActiveSet). So under contention queues get recipients in proportion to their
  // queue-priority + 1: priority 0 still gets a share (no starvation), and equal priorities
  // alternate. A queue that was idle starts at virtual_pass (the pass of the queue served last),
  // so it cannot claim the time it was idle.

  // Accounts for `n` recipients the queue just put into a transaction.
  void Served(Queue& q, std::size_t n) {
    q.pass = std::max(q.pass, virtual_pass);
    virtual_pass = q.pass;
    q.pass += n * (kPassScale / q.weight);
  }

  // A queue's place in line: behind it lies no claim older than the queue served last.
  std::uint64_t EffectivePass(const Queue& q) const { return std::max(q.pass, virtual_pass); }
  bool Before(const Queue& a, const Queue& b) const {
    const std::uint64_t pa = EffectivePass(a), pb = EffectivePass(b);
    return pa != pb ? pa < pb : a.index < b.index;
  }

  // True when a waiting queue ahead of `q` should use the free capacity first.
  bool YieldsActiveSet(const Queue& q) const {
    for (std::uint32_t index : waiting_for_active) {
      if (Before(*queues[index], q)) return true;
    }
    return false;
  }

  void LeaveWaiting(Queue& q) {
    if (!q.waiting_for_active) return;
    q.waiting_for_active = false;
    waiting_for_active.erase(
        std::find(waiting_for_active.begin(), waiting_for_active.end(), q.index));
  }

  // At the end of a RunDue() round: with room in the active set, the waiting queues first in line
  // are pumped, as many as there are free places (each takes at least one if it sends at all; one
  // that cannot send leaves the list, and the next round feeds the next). A pumped queue leaves
  // the waiting list; one that still yields comes back.
  void FeedActiveSet() {
    if (waiting_for_active.empty() || active >= options.max_active_recipients || stopped) return;
    const std::size_t room = static_cast<std::size_t>(
        std::min<std::uint64_t>(options.max_active_recipients - active, waiting_for_active.size()));
    std::vector<std::uint32_t> order = waiting_for_active;
    auto before = [this](std::uint32_t a, std::uint32_t b) {
      return Before(*queues[a], *queues[b]);
    };
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(room), order.end(),
                      before);
    for (std::size_t k = 0; k < room; ++k) MarkDirty(*queues[order[k]]);
  }

  // ---- driving -------------------------------------------------------------------------------
  void RunDue() {
    if (in_run) return;
    in_run = true;
    completion.ReleaseHeld();
    for (int round = 0; round < 100000; ++round) {
      std::vector<std::function<void()>> work;
      work.swap(completions);
      for (auto& task : work) task();
      const MonoTime now = clock.Now().mono;
      while (!wake_heap.empty() && wake_heap.front().first <= now) {
        std::pop_heap(wake_heap.begin(), wake_heap.end(), std::greater<>());
        auto [t, index] = wake_heap.back();
        wake_heap.pop_back();
        Queue& q = *queues[index];
        if (q.next_wake && *q.next_wake == t) q.next_wake.reset();
        MarkDirty(q);
      }
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
    in_run = false;
  }

  std::vector<Queue*> Match(const std::string& name) {
    std::vector<Queue*> out;
    for (auto& q : queues) {
      if (q->name == name || q->key.domain == name) out.push_back(q.get());
    }
    return out;
  }
};

QueueManager::QueueManager(std::shared_ptr<const config::Config> config,
                           QueueManagerOptions options, const Clock& clock, spool::Spool& spool,
                           OutcomeSink& outcomes, Deliverer& deliverer)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(options), clock, spool, outcomes,
                                   deliverer)) {}

QueueManager::~QueueManager() = default;

void QueueManager::SetPoster(Poster post) { impl_->post = std::move(post); }
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
  const std::optional<MonoTime> held = impl_->completion.NextCheck();
  if (held && (!next || *held < *next)) next = held;
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
  impl_->destination_cache.clear();
  for (auto& [name, rollup] : impl_->rollups) {
    if (rollup.state != Rollup::State::kResolving) rollup.expires = MonoTime::min();
  }
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
  for (const auto& q : impl_->queues) {
    QueueStats s = q->stats;
    s.mode = QueueModeName(q->mode);
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
  t.held_completions = impl_->completion.held();
  return snap;
}

std::uint64_t QueueManager::queued_recipients() const { return impl_->queued; }

}  // namespace outpost::queue
