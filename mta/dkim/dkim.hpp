// DKIM signing (RFC 6376) with rsa-sha256 and ed25519-sha256 (RFC 8463). A library on its own: it
// knows nothing of the daemon, only of a message's bytes, a private key and the signing options.
//
// What it does: Signer::Sign(message) returns one complete "DKIM-Signature: ..." header field,
// folded and CRLF-terminated, to prepend to the message. The signature covers exactly the bytes
// passed in, so the caller signs the message as it goes on the wire: after every header change
// Outpost makes (Received:, X-Job removal, ...), CRLF line ends, not dot-stuffed (the spool's
// form, see mta/spool/spool.hpp). Bare LF is not a line end here (the SMTP server refuses it).
//
// Invariants:
// * Keys are parsed once (SigningKey) and signing contexts prepared once (Signer); SignerCache
//   keeps them for the life of a configuration (PowerMTA's "DKIM signing cache"). A reload builds
//   a new cache; nothing re-reads a key file per message.
// * Signed headers: the configured list (default kDefaultSignedHeaders) filtered to those present,
//   every instance of each (RFC 6376 §5.4.2: a name listed n times selects the n last instances,
//   bottom-up), then each name in `oversign` listed once more than present, so a From: added in
//   transit breaks the signature. From: must be present (RFC 6376 §5.4): otherwise Sign() fails.
// * Private key material never appears in any message, log line or error: errors name the file
//   and say what is wrong with it, never what is in it. OpenSSL's error queue is cleared after a
//   failed load so no stale entry leaks into unrelated TLS code.
//
// Error policy: errors are values (KeyLoadResult, SignerResult, SignResult, ConfigError); nothing
// here throws on the data path. A key that is missing, unreadable, not a key, of an unsupported
// type, too short (RSA < 1024 bits) or not the type dkim-algorithm names is a configuration error
// found by ValidateDomainKeys()/SignerCache::Build() at start and on reload, naming the
// domain-key directive's file and line.
//
// Tunables (per <domain>, see docs/config.md and docs/dkim.md): dkim-algorithm (default: the key's
// type), dkim-headers-canon / dkim-body-canon (default relaxed), dkim-identity (i=; must be the
// signing domain or a subdomain of it). The header list and oversigning are SignOptions fields.
//
// Performance: the body is canonicalized and hashed in one streaming pass (no copy, no per-line
// allocation); Sign() takes a prepared OpenSSL context from a per-Signer pool, so its cost is the
// private-key operation. RSA-2048 runs at about the speed of `openssl speed` (bench/dkim/run.sh).
//
// Limits (XXX): no l= (body length) tag, no x= expiry, no z=; one key per signing domain (the
// first domain-key for a domain wins); the signing domain is the From: domain matched exactly
// (no parent-domain fallback); RSA keys must be >= 1024 bits (2048 recommended).
#pragma once

#include <cstdint>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mta/config/config.hpp"

typedef struct evp_pkey_st EVP_PKEY;  // OpenSSL's, kept out of this header
typedef struct evp_md_st EVP_MD;
typedef struct evp_md_ctx_st EVP_MD_CTX;
typedef struct evp_pkey_ctx_st EVP_PKEY_CTX;

namespace outpost::dkim {

enum class Algorithm { kRsaSha256, kEd25519Sha256 };
enum class Canon { kRelaxed, kSimple };

const char* AlgorithmName(Algorithm a);  // "rsa-sha256", "ed25519-sha256"
const char* CanonName(Canon c);          // "relaxed", "simple"
std::optional<Algorithm> ParseAlgorithm(std::string_view text);
std::optional<Canon> ParseCanon(std::string_view text);

// The header fields signed by default, when present (lower case).
inline const std::vector<std::string> kDefaultSignedHeaders = {"from",
                                                               "reply-to",
                                                               "to",
                                                               "cc",
                                                               "subject",
                                                               "date",
                                                               "message-id",
                                                               "mime-version",
                                                               "content-type",
                                                               "content-transfer-encoding",
                                                               "list-unsubscribe",
                                                               "list-unsubscribe-post"};

// ---- Canonicalization (RFC 6376 §3.4), exposed for tests and tools. ----

// One header field as it appears in the message ("Name: value\r\n\tmore"), without its final
// CRLF. Relaxed: "name:value" unfolded, WSP runs as one SP, no WSP around the colon or at the
// end. Simple: unchanged. Neither appends CRLF.
std::string CanonicalHeader(std::string_view field, Canon canon);
// A message body (everything after the blank line). Simple: trailing empty lines removed, one
// CRLF at the end; an empty body is "\r\n". Relaxed: also WSP at line ends removed and WSP runs
// as one SP; an empty body stays empty.
std::string CanonicalBody(std::string_view body, Canon canon);
// base64(SHA-256(CanonicalBody(body, canon))), computed streaming without building the copy.
std::string BodyHash(std::string_view body, Canon canon);

// A message split into header fields (each without its final CRLF) and body. Views into the
// message, which must outlive it. Lines that are not fields (no colon) are kept with an empty
// name, so they are never selected for signing.
struct HeaderField {
  std::string_view name;   // as written, e.g. "Subject"
  std::string_view field;  // the whole field, folding included, no final CRLF
};
struct SplitMessage {
  std::vector<HeaderField> headers;
  std::string_view body;
};
SplitMessage Split(std::string_view message);

// ---- Keys ----

// A parsed private key. Immutable; thread-safe (OpenSSL 3 allows concurrent signing with one
// EVP_PKEY).
class SigningKey {
 public:
  ~SigningKey();
  SigningKey(const SigningKey&) = delete;
  SigningKey& operator=(const SigningKey&) = delete;

  Algorithm algorithm() const { return algorithm_; }
  int bits() const { return bits_; }
  EVP_PKEY* pkey() const { return pkey_; }
  // The DNS TXT record publishing the public half: "v=DKIM1; k=rsa; p=..." (for operators, tests).
  std::string DnsRecord() const;

 private:
  friend struct KeyLoader;
  SigningKey(EVP_PKEY* pkey, Algorithm algorithm, int bits);
  EVP_PKEY* pkey_;
  Algorithm algorithm_;
  int bits_;
};

struct KeyLoadResult {
  std::shared_ptr<const SigningKey> key;  // null on error
  std::string error;                      // e.g. "not a PEM private key"; never key material
};

// Loads a PEM private key file: PKCS#8 ("BEGIN PRIVATE KEY"), PKCS#1 ("BEGIN RSA PRIVATE KEY"),
// or, for Ed25519, the raw 32-byte seed in base64 as RFC 8463 prints it. Encrypted keys are
// refused (there is nobody to ask for a passphrase).
KeyLoadResult LoadSigningKey(const std::string& path);
// The same from the file's contents (tests, benchmarks).
KeyLoadResult ParseSigningKey(std::string_view text);

// ---- Signing ----

struct SignOptions {
  std::string domain;                  // d=
  std::string selector;                // s=
  std::optional<Algorithm> algorithm;  // default: the key's type; must match it
  Canon header_canon = Canon::kRelaxed;
  Canon body_canon = Canon::kRelaxed;
  std::string identity;  // i=, empty: no i= tag. Must be @domain or @sub.domain (or x@...)
  std::vector<std::string> headers = kDefaultSignedHeaders;  // case-insensitive
  std::vector<std::string> oversign = {"from"};              // listed once more than present
};

struct SignResult {
  std::string header;  // "DKIM-Signature: ...\r\n" (folded); empty on error
  std::string error;
  bool ok() const { return error.empty(); }
};

class Signer;
struct SignerResult {
  std::shared_ptr<const Signer> signer;  // null on error
  std::string error;
};

// A key with its options, checked and prepared once. Thread-safe: concurrent Sign() calls each
// take a prepared signing context from a small pool (a mutex held only to pop or push one), so the
// per-message cost is the private-key operation, not OpenSSL's context set-up.
class Signer {
 public:
  static SignerResult Create(std::shared_ptr<const SigningKey> key, SignOptions options);
  ~Signer();
  Signer(const Signer&) = delete;
  Signer& operator=(const Signer&) = delete;

  // Signs `message` (CRLF, headers then body) with t= the current time.
  SignResult Sign(std::string_view message) const;
  // The same with t= `timestamp` (seconds since the epoch), for deterministic tests.
  SignResult SignAt(std::string_view message, std::int64_t timestamp) const;

  // The low level, used by SignAt() and by the RFC vector tests: the base64 b= value for
  // `message` given the DKIM-Signature field as it will be sent but with an empty b= at its end
  // (no final CRLF), and the h= names in order. Empty on a crypto failure.
  std::string ComputeSignature(const SplitMessage& message, std::string_view unsigned_field,
                               const std::vector<std::string>& names) const;

  const SignOptions& options() const { return options_; }
  Algorithm algorithm() const { return algorithm_; }

 private:
  Signer(std::shared_ptr<const SigningKey> key, SignOptions options, Algorithm algorithm);
  // A signing context prepared for key_: for RSA an EVP_PKEY_CTX after EVP_PKEY_sign_init with
  // PKCS#1 v1.5 padding and SHA-256; for Ed25519 an EVP_MD_CTX after EVP_DigestSignInit.
  struct Context {
    EVP_PKEY_CTX* pkey_ctx = nullptr;
    EVP_MD_CTX* md_ctx = nullptr;
  };
  Context Acquire() const;          // from the pool, or a new one (null members on failure)
  void Release(Context ctx) const;  // back to the pool (bounded), or freed
  static void Free(Context ctx);

  std::shared_ptr<const SigningKey> key_;
  SignOptions options_;
  Algorithm algorithm_;
  EVP_MD* sha256_ = nullptr;  // fetched once, not per message
  mutable std::mutex pool_mutex_;
  mutable std::vector<Context> pool_;
};

// ---- Configuration (domain-key, dkim-* directives) ----

// The per-destination options of a <domain> block (dkim-algorithm, dkim-*-canon, dkim-identity).
struct DomainSignPolicy {
  std::optional<Algorithm> algorithm;
  Canon header_canon = Canon::kRelaxed;
  Canon body_canon = Canon::kRelaxed;
  std::string identity;
};
// Reads them from a <domain> block (null: the defaults).
DomainSignPolicy PolicyFrom(const config::DomainPolicy* policy);

// The domain of the first From: address ("joe@Example.COM" -> "example.com"), or empty.
std::string FromDomain(std::string_view message);

// Every domain-key's key (global, and each <virtual-mta>'s own), loaded and checked; Signers are
// made on first use per (key, policy) and kept. Thread-safe: Find() may be called from any thread.
class SignerCache {
 public:
  struct BuildResult {
    std::shared_ptr<SignerCache> cache;  // null when errors is not empty
    std::vector<config::ConfigError> errors;
  };
  // Loads every domain-key of `config`; each failure is an error at the directive's file:line.
  // Also checks each <domain>'s dkim-* options against the keys (see ValidateDomainKeys).
  static BuildResult Build(const config::Config& config);

  // The signer for mail whose signing domain (the From: domain, see FromDomain) is `domain`,
  // sent through virtual MTA `vmta`, under `policy`: the virtual MTA's own domain-key for the
  // domain, else its `*` key, else the global one for the domain, else the global `*` key (whose
  // signature has d= `domain`). Null when no domain-key covers the domain, or
  // when the policy cannot apply to its key (an algorithm of another type, an identity outside the
  // domain); `error` says which.
  std::shared_ptr<const Signer> Find(const std::string& domain, const DomainSignPolicy& policy,
                                     std::string* error = nullptr,
                                     const std::string& vmta = "") const;

  // The key for signing domain `domain` through `vmta` as Find() chooses it, and its selector,
  // for signatures other than DKIM's (DomainKeys, domainkeys.hpp). Null when no domain-key
  // covers the domain.
  std::shared_ptr<const SigningKey> FindKey(const std::string& domain, const std::string& vmta,
                                            std::string* selector) const;

  std::size_t key_count() const { return keys_.size(); }

 private:
  struct Key {
    config::DomainKey directive;
    std::shared_ptr<const SigningKey> key;
  };
  static const std::string kAnyDomain;    // "*": domain-key SELECTOR,*,KEYFILE
  static const std::string kGlobalOwner;  // "": the global domain-key lines
  // The virtual MTA's own domain-key for `domain` (lower case), its `*` key, the global key for
  // `domain`, the global `*` key; null if none.
  const Key* Lookup(const std::string& domain, const std::string& vmta) const;
  static std::string KeyName(const std::string& vmta, const std::string& domain);
  void Load(const std::string& vmta, const std::vector<config::DomainKey>& keys,
            std::vector<config::ConfigError>& errors);
  std::map<std::string, Key> keys_;  // by "VMTA/domain" (lower case; "/domain" when global)
  mutable std::mutex mutex_;
  mutable std::map<std::string, std::shared_ptr<const Signer>> signers_;  // by domain + policy
};

// The load-time check the daemon runs at start and on reload: every domain-key file parses as a
// supported key; each <domain> with dkim-sign yes has a key to use; an explicit dkim-algorithm
// matches some key's type; a dkim-identity lies within some key's domain. Errors name file:line
// (XXX: for <domain> blocks, the line within config.files[0]: DomainPolicy has no file member).
std::vector<config::ConfigError> ValidateDomainKeys(const config::Config& config);

}  // namespace outpost::dkim
