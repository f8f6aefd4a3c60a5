// mx-rollup decisions: which queue destination a recipient domain uses.
//
// A domain D whose merged <domain> policy says `mx-rollup NAME` shares the queue destination NAME
// iff D's MX host set (Deliverer::ResolveMxHosts: names, preferences ignored) equals NAME's; when
// NAME is not a mail domain (NXDOMAIN, e.g. "mx-rollup google"), the first member to resolve
// defines the set. A mismatch or a DNS failure keeps D on its own destination (mail never goes to
// another domain's MX). A domain without mx-rollup, or the rollup's own name, is decided at once
// without DNS. While D's answer (or NAME's) is outstanding, DestinationFor() returns nullptr and
// the caller parks D's recipients here (Park()); when the decision is made, `decided` receives the
// destination and the parked recipients, and the caller puts them in their queues.
//
// Decisions are cached for kRollupTtl (kRollupRetry after a temporary DNS failure, of D or of
// NAME); the rollup's reference set likewise. SetConfig() (reload) forgets the decisions and
// expires the reference sets, so the next recipient of a domain asks again. The rolled-up queue
// uses the policy and the MX of the domain defining the set (Destination::mx_domain).
//
// DNS answers are never acted on inside ResolveMxHosts(): they are handed to `defer`, which runs
// them on the scheduler's next round (no re-entry into the scheduler from a Deliverer callback).
//
// Known limits (XXX): decisions ignore DNS TTLs (1 h cache); parked recipients are in no queue, so
// Pause/Delete do not see them.
//
// Thread-safety: not thread-safe; the scheduler's thread only (queue_manager.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.hpp"
#include "mta/config/config.hpp"
#include "mta/queue/deliverer.hpp"

namespace outpost::queue {

inline constexpr std::chrono::hours kRollupTtl{1};
inline constexpr std::chrono::seconds kRollupRetry{60};

// Where a recipient domain's mail is queued.
struct Destination {
  std::string name;       // the queue's destination: the domain itself or its mx-rollup name
  std::string mx_domain;  // the MX lookup target of that queue (also whose policy it uses)
  MonoTime expires = MonoTime::max();
};

// A recipient waiting for its domain's mx-rollup decision (the scheduler's message index and
// recipient index, whether it came from recovery, and the vmta chosen for its message).
struct ParkedRecipient {
  std::uint32_t msg;
  std::uint32_t rcpt;
  bool retry;
  std::string vmta;
};

class MxRollup {
 public:
  // Runs a DNS answer's handling later, on the scheduler's thread.
  using Defer = std::function<void(std::function<void()>)>;
  // A decision is made for a domain that had parked recipients (`parked` may be empty).
  using Decided = std::function<void(const Destination&, std::vector<ParkedRecipient> parked)>;

  MxRollup(std::shared_ptr<const config::Config> config, Deliverer& dns, const Clock& clock,
           Defer defer, Decided decided);

  // Reload: new policies; every decision is taken again.
  void SetConfig(std::shared_ptr<const config::Config> config);

  // `domain`'s destination, or nullptr while its decision waits for DNS (the lookups are then
  // under way; park the recipient).
  const Destination* DestinationFor(const std::string& domain, MonoTime now);
  // Keeps `recipient` of `domain` (for which DestinationFor() returned nullptr) until the decision.
  void Park(const std::string& domain, ParkedRecipient recipient);

 private:
  struct PendingDomain {
    std::string rollup;
    std::vector<ParkedRecipient> parked;
    std::optional<MxHostsAnswer> answer;
  };
  struct Rollup {
    enum class State { kResolving, kKnown, kUnavailable, kNoReference };
    State state = State::kResolving;
    std::vector<std::string>
        hosts;              // the reference MX host set (kKnown; kNoReference once claimed)
    std::string mx_domain;  // the domain whose hosts are the reference
    MonoTime expires{};
    std::vector<std::string> waiting;  // member domains waiting for this answer
  };

  void Resolve(const std::string& domain, const std::string& name, MonoTime now);
  void OnRollupHosts(const std::string& name, MxHostsAnswer answer);
  void Decide(const std::string& domain);

  std::shared_ptr<const config::Config> config_;
  Deliverer& dns_;
  const Clock& clock_;
  Defer defer_;
  Decided decided_;
  std::unordered_map<std::string, Destination> destinations_;  // recipient domain -> destination
  std::unordered_map<std::string, PendingDomain> pending_;     // awaiting a decision
  std::unordered_map<std::string, Rollup> rollups_;            // by mx-rollup name
};

}  // namespace outpost::queue
