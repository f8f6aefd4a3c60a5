#include "mta/queue/mx_rollup.hpp"

#include <utility>

#include "mta/log/log.hpp"
#include "mta/queue/domain_policy.hpp"

namespace outpost::queue {

MxRollup::MxRollup(std::shared_ptr<const config::Config> config, Deliverer& dns, const Clock& clock,
                   Defer defer, Decided decided)
    : config_(std::move(config)),
      dns_(dns),
      clock_(clock),
      defer_(std::move(defer)),
      decided_(std::move(decided)) {}

void MxRollup::SetConfig(std::shared_ptr<const config::Config> config) {
  config_ = std::move(config);
  destinations_.clear();
  for (auto& [name, rollup] : rollups_) {
    if (rollup.state != Rollup::State::kResolving) rollup.expires = MonoTime::min();
  }
}

const Destination* MxRollup::DestinationFor(const std::string& domain, MonoTime now) {
  auto it = destinations_.find(domain);
  if (it != destinations_.end() && now < it->second.expires) return &it->second;
  if (pending_.count(domain) != 0) return nullptr;
  const std::string rollup = MergeDomainPolicy(*config_, domain).mx_rollup;
  if (rollup.empty() || rollup == domain) {
    // No rollup, or the rollup's own name: its queue is named after it without asking DNS.
    Destination d{rollup.empty() ? domain : rollup, domain, MonoTime::max()};
    return &(destinations_[domain] = std::move(d));
  }
  Resolve(domain, rollup, now);
  return nullptr;
}

void MxRollup::Park(const std::string& domain, ParkedRecipient recipient) {
  pending_[domain].parked.push_back(std::move(recipient));
}

// Asks DNS for the MX hosts of `domain` and (unless known) of the rollup's reference `name`.
void MxRollup::Resolve(const std::string& domain, const std::string& name, MonoTime now) {
  PendingDomain& pending = pending_[domain];
  pending.rollup = name;
  dns_.ResolveMxHosts(domain, [this, domain](MxHostsAnswer answer) {
    defer_([this, domain, answer = std::move(answer)]() mutable {
      auto it = pending_.find(domain);
      if (it == pending_.end()) return;
      it->second.answer = std::move(answer);
      Decide(domain);
    });
  });
  auto [it, created] = rollups_.try_emplace(name);
  Rollup& rollup = it->second;
  const bool stale = !created && rollup.state != Rollup::State::kResolving && now >= rollup.expires;
  if (stale) rollup = Rollup{};
  if (rollup.state == Rollup::State::kResolving) rollup.waiting.push_back(domain);
  if (!created && !stale) return;
  dns_.ResolveMxHosts(name, [this, name](MxHostsAnswer answer) {
    defer_([this, name, answer = std::move(answer)]() mutable {
      OnRollupHosts(name, std::move(answer));
    });
  });
}

void MxRollup::OnRollupHosts(const std::string& name, MxHostsAnswer answer) {
  Rollup& rollup = rollups_[name];
  const MonoTime now = clock_.Now().mono;
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
  for (const std::string& domain : waiting) Decide(domain);
}

// Decides `domain`'s destination once both MX answers are in, and hands over its parked recipients.
void MxRollup::Decide(const std::string& domain) {
  auto pit = pending_.find(domain);
  if (pit == pending_.end() || !pit->second.answer) return;
  auto rit = rollups_.find(pit->second.rollup);
  if (rit == rollups_.end() || rit->second.state == Rollup::State::kResolving) return;
  Rollup& rollup = rit->second;
  const MxHostsAnswer& own = *pit->second.answer;
  const MonoTime now = clock_.Now().mono;
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
  pending_.erase(pit);
  const Destination& dest = destinations_[domain] = std::move(d);
  decided_(dest, std::move(parked));
}

}  // namespace outpost::queue
