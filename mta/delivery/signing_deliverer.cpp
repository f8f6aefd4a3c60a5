#include "mta/delivery/signing_deliverer.hpp"

#include <utility>

#include "mta/dkim/domainkeys.hpp"
#include "mta/log/log.hpp"
#include "mta/queue/domain_policy.hpp"
#include "mta/queue/queue_name.hpp"

namespace outpost::delivery {

SigningDeliverer::SigningDeliverer(queue::Deliverer& inner,
                                   std::shared_ptr<const config::Config> config,
                                   std::shared_ptr<const dkim::SignerCache> signers, WorkPool* pool)
    : inner_(inner), pool_(pool), config_(std::move(config)), signers_(std::move(signers)) {}

void SigningDeliverer::SetConfig(std::shared_ptr<const config::Config> config,
                                 std::shared_ptr<const dkim::SignerCache> signers) {
  config_ = std::move(config);
  signers_ = std::move(signers);
  ++generation_;  // every connection re-merges its policy at its next Send()
  logged_no_key_.clear();
  logged_failure_.clear();
  logged_dk_failure_.clear();
}

void SigningDeliverer::Connect(const queue::ConnectRequest& request,
                               std::function<void(queue::ConnectOutcome)> done) {
  std::optional<queue::QueueKey> key = queue::ParseQueueName(request.queue);
  inner_.Connect(request, [this, domain = request.domain, vmta = key ? key->vmta : std::string(),
                           done = std::move(done)](queue::ConnectOutcome outcome) {
    if (outcome.status == queue::ConnectStatus::kOk) {
      Destination& destination = connections_[outcome.id];
      destination.domain = domain;
      destination.vmta = vmta;
    }
    done(std::move(outcome));
  });
}

void SigningDeliverer::Send(queue::ConnectionId connection, queue::BatchRequest batch,
                            std::function<void(queue::BatchOutcome)> done) {
  auto it = connections_.find(connection);
  if (it == connections_.end() || !batch.data) {
    inner_.Send(connection, std::move(batch), std::move(done));
    return;
  }
  if (const Destination& merged = Refresh(it->second); !merged.sign && !merged.dk_sign) {
    inner_.Send(connection, std::move(batch), std::move(done));
    return;
  }
  const Destination& destination = it->second;
  if (pool_ == nullptr) {
    Attempt attempt = Sign(*signers_, destination, std::move(batch.data));
    Account(attempt, destination.domain);
    batch.data = std::move(attempt.data);
    inner_.Send(connection, std::move(batch), std::move(done));
    return;
  }
  // The pool thread fills `attempt`; the loop reads it once the pool posts the completion back.
  auto attempt = std::make_shared<Attempt>();
  auto data = std::move(batch.data);
  pool_->Submit(
      [attempt, signers = signers_, destination, data = std::move(data)]() mutable {
        *attempt = Sign(*signers, destination, std::move(data));
      },
      [this, attempt, connection, domain = destination.domain, batch = std::move(batch),
       done = std::move(done)]() mutable {
        Account(*attempt, domain);
        batch.data = std::move(attempt->data);
        inner_.Send(connection, std::move(batch), std::move(done));
      });
}

void SigningDeliverer::Close(queue::ConnectionId connection, std::function<void()> closed) {
  connections_.erase(connection);
  inner_.Close(connection, std::move(closed));
}

void SigningDeliverer::ResolveMxHosts(const std::string& domain,
                                      std::function<void(queue::MxHostsAnswer)> done) {
  inner_.ResolveMxHosts(domain, std::move(done));
}

const SigningDeliverer::Destination& SigningDeliverer::Refresh(Destination& destination) {
  if (destination.generation == generation_) return destination;
  destination.generation = generation_;
  destination.sign = false;
  destination.dk_sign = false;
  destination.policy = {};
  if (!config_) return destination;
  queue::EffectiveDomainPolicy merged =
      queue::MergeDomainPolicy(*config_, destination.domain, destination.vmta);
  destination.sign = merged.dkim_sign && signers_ != nullptr;
  destination.dk_sign = merged.dk_sign && signers_ != nullptr;
  // dkim::PolicyFrom parses the option texts (already validated by the config loader).
  config::DomainPolicy options;
  options.dkim_algorithm = merged.dkim_algorithm;
  options.dkim_headers_canon = merged.dkim_headers_canon;
  options.dkim_body_canon = merged.dkim_body_canon;
  options.dkim_identity = merged.dkim_identity;
  destination.policy = dkim::PolicyFrom(&options);
  return destination;
}

SigningDeliverer::Attempt SigningDeliverer::Sign(const dkim::SignerCache& signers,
                                                 const Destination& destination,
                                                 std::shared_ptr<const std::string> data) {
  Attempt attempt;
  attempt.from_domain = dkim::FromDomain(*data);
  std::string dkim_field =
      destination.sign ? SignDkim(signers, destination, *data, attempt) : std::string();
  std::string dk_field =
      destination.dk_sign ? SignDomainKeys(signers, destination, *data, attempt) : std::string();
  if (dkim_field.empty() && dk_field.empty()) {
    attempt.data = std::move(data);
    return attempt;
  }
  auto signed_data = std::make_shared<std::string>();
  signed_data->reserve(dkim_field.size() + dk_field.size() + data->size());
  signed_data->append(dkim_field).append(dk_field).append(*data);
  attempt.data = std::move(signed_data);
  return attempt;
}

std::string SigningDeliverer::SignDkim(const dkim::SignerCache& signers,
                                       const Destination& destination, const std::string& data,
                                       Attempt& attempt) {
  std::shared_ptr<const dkim::Signer> signer =
      attempt.from_domain.empty()
          ? nullptr
          : signers.Find(attempt.from_domain, destination.policy, &attempt.why, destination.vmta);
  if (!signer) {
    // Find() says "no domain-key for ..." when the domain has no key; anything else means a key
    // exists but this destination's policy cannot use it.
    const bool no_key = attempt.from_domain.empty() || attempt.why.rfind("no domain-key", 0) == 0;
    attempt.kind = no_key ? Attempt::Kind::kNoKey : Attempt::Kind::kFailed;
    return std::string();
  }
  dkim::SignResult result = signer->Sign(data);
  if (!result.ok()) {
    attempt.kind = Attempt::Kind::kFailed;
    attempt.why = "signing failed: " + result.error;
    return std::string();
  }
  attempt.kind = Attempt::Kind::kSigned;
  return std::move(result.header);
}

std::string SigningDeliverer::SignDomainKeys(const dkim::SignerCache& signers,
                                             const Destination& destination,
                                             const std::string& data, Attempt& attempt) {
  dkim::DkSignOptions options;
  std::shared_ptr<const dkim::SigningKey> key =
      attempt.from_domain.empty()
          ? nullptr
          : signers.FindKey(attempt.from_domain, destination.vmta, &options.selector);
  if (!key) {
    attempt.dk_kind = Attempt::Kind::kNoKey;
    return std::string();
  }
  options.domain = attempt.from_domain;
  dkim::SignResult result = dkim::SignDomainKeys(*key, options, data);
  if (!result.ok()) {
    attempt.dk_kind = Attempt::Kind::kFailed;
    attempt.dk_why = result.error;
    return std::string();
  }
  attempt.dk_kind = Attempt::Kind::kSigned;
  return std::move(result.header);
}

void SigningDeliverer::Account(const Attempt& attempt, const std::string& destination_domain) {
  const std::string& from = attempt.from_domain;
  switch (attempt.dk_kind) {
    case Attempt::Kind::kNotAsked:
      break;
    case Attempt::Kind::kSigned:
      ++stats_.domainkeys_signed;
      break;
    case Attempt::Kind::kNoKey:
      ++stats_.domainkeys_failures;
      LogOnce(logged_no_key_, from, false,
              "no domain-key for From: domain " + from + "; sent without a DomainKey-Signature");
      break;
    case Attempt::Kind::kFailed:
      ++stats_.domainkeys_failures;
      LogOnce(logged_dk_failure_, from, true,
              "cannot make a DomainKeys signature for " + from + ": " + attempt.dk_why +
                  "; sent without one");
      break;
  }
  switch (attempt.kind) {
    case Attempt::Kind::kNotAsked:
      return;
    case Attempt::Kind::kSigned:
      ++stats_.signed_messages;
      return;
    case Attempt::Kind::kNoKey:
      ++stats_.unsigned_no_key;
      LogOnce(logged_no_key_, from, false,
              (from.empty() ? "message without a From: domain"
                            : "no domain-key for From: domain " + from) +
                  "; sent unsigned");
      return;
    case Attempt::Kind::kFailed:
      ++stats_.sign_failures;
      LogOnce(logged_failure_, from, true,
              "cannot sign for " + from + " to " + destination_domain + ": " + attempt.why +
                  "; sent unsigned");
      return;
  }
}

void SigningDeliverer::LogOnce(std::set<std::string>& logged, const std::string& domain,
                               bool warning, const std::string& text) {
  if (logged.size() >= kMaxLoggedDomains || !logged.insert(domain).second) return;
  if (warning) {
    OUTPOST_LOG(kWarning, "dkim") << text;
  } else {
    OUTPOST_LOG(kDebug, "dkim") << text;
  }
}

}  // namespace outpost::delivery
