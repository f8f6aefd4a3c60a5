// DomainKeys signing (RFC 4870, historic), for `dk-sign yes` in a <domain> block. DomainKeys is
// DKIM's predecessor; PowerMTA configurations still ask for it beside DKIM (`dk-sign yes` and
// `dkim-sign yes` together), so Outpost makes it when asked. New designs want DKIM only.
//
// What it does: SignDomainKeys(key, options, message) returns one complete
// "DomainKey-Signature: ..." header field, folded and CRLF-terminated, to prepend to the message.
// Like DKIM it signs exactly the bytes given (the spool's form, CRLF line ends, not dot-stuffed).
//
// Invariants:
// * a=rsa-sha1, q=dns, c=nofws unless simple is asked for; the key is a domain-key's (the same
//   selector, domain and DNS record as DKIM: "k=rsa; p=..." serves both).
// * h= names each signed header field once, in the order of first appearance; the hash takes, for
//   each name in h= order, every instance of it in message order (RFC 4870 §3.3: a verifier
//   includes all occurrences of a listed header), then the blank line and the body with trailing
//   empty lines dropped (§3.4). Signed: the kDefaultSignedHeaders present, and always From: or,
//   without From:, Sender: (the header that names the sending domain, §3.3).
// * nofws removes every SP and HTAB (and the line breaks of folded header fields); a line left
//   empty counts as empty.
//
// Error policy: errors are values (SignResult.error). DomainKeys has no Ed25519: an Ed25519 key is
// an error ("DomainKeys signs with RSA keys only"); so is a message with neither From: nor Sender:.
//
// Cost: one SHA-1 over the canonical headers and body plus one RSA private-key operation, on the
// signing pool's thread like DKIM (signing_deliverer.hpp). No context pool: the OpenSSL context
// is made per signature (legacy feature; the RSA operation dominates).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mta/dkim/dkim.hpp"

namespace outpost::dkim {

enum class DkCanon { kSimple, kNofws };

const char* DkCanonName(DkCanon c);  // "simple", "nofws"

struct DkSignOptions {
  std::string domain;    // d=
  std::string selector;  // s=
  DkCanon canon = DkCanon::kNofws;
  std::vector<std::string> headers = kDefaultSignedHeaders;  // lower case
};

// The bytes RFC 4870 hashes for `message` with h= `names` (exposed for tests).
std::string DomainKeysHashInput(const SplitMessage& message, const std::vector<std::string>& names,
                                DkCanon canon);

// Signs `message`; the h= list is chosen as the header comment says.
SignResult SignDomainKeys(const SigningKey& key, const DkSignOptions& options,
                          std::string_view message);

}  // namespace outpost::dkim
