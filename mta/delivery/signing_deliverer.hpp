// DKIM signing at the Deliverer seam: a decorator that signs each transaction's message just before
// the production Deliverer (SmtpDeliverer) puts it on the wire.
//
// What it does: Connect() remembers each connection's destination domain (the queue's recipient
// domain) and virtual MTA (from the queue name). Send() merges that domain's <domain> policy for
// that virtual MTA (MergeDomainPolicy: its own sections first); with `dkim-sign yes` it asks the
// SignerCache for the signer of the From: domain (dkim::FromDomain) and that virtual MTA under
// the merged dkim-* options, prepends the DKIM-Signature field to a copy of the data and forwards
// that copy. With `dk-sign yes` it also prepends a DomainKey-Signature (dkim/domainkeys.hpp) made
// with the same domain-key. Otherwise the batch goes through unchanged;
// Connect/Close/ResolveMxHosts as they are.
//
// Invariants:
// * The signature covers exactly the bytes the inner Deliverer sends: the data is the spool's
//   form (CRLF, not dot-stuffed) after every header change Outpost makes (the SMTP server adds
//   Received: at spool time; nothing changes the message after this point). The SMTP client's
//   dot-stuffing on the wire is undone by the receiver, so it is transparent to DKIM.
// * Keys are parsed and signing contexts prepared once per configuration (dkim::SignerCache,
//   PowerMTA's "DKIM signing cache"); SetConfig() swaps in the cache built for a reloaded
//   configuration. Running connections pick up the new policy at their next Send().
// * Private key material never reaches a log line: only domains, selectors and error texts of
//   the dkim library (which never contain key material) are logged.
//
// Error policy: a signing problem never fails a delivery. No domain-key for the From: domain (or
// no From:) → sent unsigned, counted (unsigned_no_key), logged at debug once per domain. A key
// whose type the policy's dkim-algorithm does not match, or a failed signature → sent unsigned,
// counted (sign_failures), logged as a warning once per domain. Bad keys are configuration errors
// found before this class sees them (dkim::SignerCache::Build at start and in the reload path).
//
// Threads: with a WorkPool (the daemon's signing pool, sized by queue-processing-threads) the
// signature is made on a pool thread: Send() merges the policy on the loop, hands the message, the
// SignerCache and the policy to the pool, and when the pool posts the result back to the loop it
// counts and logs the outcome and calls the inner Send() with the signed copy. The loop stays the
// only owner of this object's state (connections, counters, "logged once" sets); the pool thread
// touches only the message, the immutable SignerCache and the thread-safe Signer. When the pool is
// full the transaction waits in the pool's FIFO (back-pressure, work_pool.hpp). Without a pool
// (tests, tools) signing runs inline on the caller's thread.
//
// Cost: RSA-2048 ≈ 0.25 ms per message (Ed25519 much less) plus one copy of the message to
// prepend the field, both on the pool thread. Each batch is signed once; a message sent to several
// destination domains is signed once per batch (XXX: no per-message signature cache — batches
// carry separately read copies of the data, and t= and the destination's policy may differ).
//
// The counters (Stats()) reach the metrics bus through the management plane's readings
// (dkim_*_total; /status.json "dkim"). Limits (XXX): the "logged once" domain sets are bounded
// (kMaxLoggedDomains) and cleared on reload.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>

#include "mta/config/config.hpp"
#include "mta/delivery/work_pool.hpp"
#include "mta/dkim/dkim.hpp"
#include "mta/queue/deliverer.hpp"

namespace outpost::delivery {

struct SigningStats {
  std::uint64_t signed_messages = 0;  // batches forwarded with a DKIM-Signature
  std::uint64_t unsigned_no_key = 0;  // dkim-sign yes, but no domain-key for the From: domain
  std::uint64_t sign_failures = 0;    // a key exists but the policy does not fit it, or Sign failed
  std::uint64_t domainkeys_signed = 0;    // batches forwarded with a DomainKey-Signature
  std::uint64_t domainkeys_failures = 0;  // dk-sign yes but no RSA key, or signing failed
};

// Not thread-safe: used from one thread (the queue manager's io thread), like the Deliverer it
// wraps; the pool's completions come back to that thread.
class SigningDeliverer final : public queue::Deliverer {
 public:
  static constexpr std::size_t kMaxLoggedDomains = 10000;

  // `inner` and `pool` must outlive this object. `signers` may be null (nothing is signed).
  // `pool` null: sign inline.
  SigningDeliverer(queue::Deliverer& inner, std::shared_ptr<const config::Config> config,
                   std::shared_ptr<const dkim::SignerCache> signers, WorkPool* pool = nullptr);

  // A reloaded configuration and the SignerCache built from it (SignerCache::Build succeeded).
  void SetConfig(std::shared_ptr<const config::Config> config,
                 std::shared_ptr<const dkim::SignerCache> signers);

  void Connect(const queue::ConnectRequest& request,
               std::function<void(queue::ConnectOutcome)> done) override;
  void Send(queue::ConnectionId connection, queue::BatchRequest batch,
            std::function<void(queue::BatchOutcome)> done) override;
  void Close(queue::ConnectionId connection, std::function<void()> closed) override;
  void ResolveMxHosts(const std::string& domain,
                      std::function<void(queue::MxHostsAnswer)> done) override;

  const SigningStats& Stats() const { return stats_; }

 private:
  // A connection's destination and its merged dkim-* policy under configuration `generation`.
  struct Destination {
    std::string domain;
    std::string vmta;              // the queue's virtual MTA ("" when the queue name has none)
    std::uint64_t generation = 0;  // 0: not merged yet
    bool sign = false;             // dkim-sign
    bool dk_sign = false;          // dk-sign (DomainKeys)
    dkim::DomainSignPolicy policy;
  };
  // What signing one message came to (made on a pool thread, accounted on the loop).
  struct Attempt {
    enum class Kind { kNotAsked, kSigned, kNoKey, kFailed };
    Kind kind = Kind::kNotAsked;              // DKIM
    Kind dk_kind = Kind::kNotAsked;           // DomainKeys
    std::shared_ptr<const std::string> data;  // what to send: the input, or a signed copy
    std::string from_domain;
    std::string why;     // for kFailed: the reason
    std::string dk_why;  // for dk_kind kNoKey/kFailed: the reason
  };
  const Destination& Refresh(Destination& destination);
  // Thread-safe: reads only its arguments (SignerCache and Signer are thread-safe).
  static Attempt Sign(const dkim::SignerCache& signers, const Destination& destination,
                      std::shared_ptr<const std::string> data);
  // The DKIM-Signature field for `data` ("" when none is made; attempt.kind says why).
  static std::string SignDkim(const dkim::SignerCache& signers, const Destination& destination,
                              const std::string& data, Attempt& attempt);
  // The DomainKey-Signature field ("" when none is made; attempt.dk_kind says why).
  static std::string SignDomainKeys(const dkim::SignerCache& signers,
                                    const Destination& destination, const std::string& data,
                                    Attempt& attempt);
  void Account(const Attempt& attempt, const std::string& destination_domain);
  void LogOnce(std::set<std::string>& logged, const std::string& domain, bool warning,
               const std::string& text);

  queue::Deliverer& inner_;
  WorkPool* pool_;
  std::shared_ptr<const config::Config> config_;
  std::shared_ptr<const dkim::SignerCache> signers_;
  std::uint64_t generation_ = 1;
  std::unordered_map<queue::ConnectionId, Destination> connections_;
  std::set<std::string> logged_no_key_;
  std::set<std::string> logged_failure_;
  std::set<std::string> logged_dk_failure_;
  SigningStats stats_;
};

}  // namespace outpost::delivery
