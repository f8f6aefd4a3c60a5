// DNS for delivery: MX then address lookups, asynchronous in the event loop, with a bounded cache.
//
// ResolveMx() answers the destination's mail exchangers in preference order (ties in random
// order). No MX record (NODATA) gives the implicit MX: the domain itself at preference 0
// (RFC 5321 §5.1), flagged `implicit`. A null MX (RFC 7505: one MX "." ) is kNullMx; NXDOMAIN is
// kNxDomain — both mean the mail bounces with bounceCat bad-domain. SERVFAIL, REFUSED, timeouts
// and network errors are kTempFail: the mail is deferred, never bounced.
//
// Cache: positive and negative answers are kept for their TTL capped by `cache_ttl_cap`
// (dns-cache-ttl); at most `cache_size` entries (dns-cache-size), least recently used evicted.
// Temporary failures are not cached. Concurrent lookups of one name share one query.
// Negative answers (NXDOMAIN, NODATA) live for the SOA's negative TTL (min of the SOA record's
// TTL and its MINIMUM, RFC 2308) when the server sends one, else `negative_ttl`; both capped.
// A TTL of 0 means "do not cache". Every result carries `ttl`: the seconds it may still be used
// (for a cache hit, what remains). Callbacks never run inside ResolveMx/ResolveAddress: they are
// posted to the io_context, so a caller may start another lookup from a callback.
// Destroying the resolver abandons lookups in flight: their callbacks are dropped, never run.
//
// Limits: `server` is one address ("127.0.0.1:5353", "[::1]:53", or a bare address for port 53).
// XXX: no DNSSEC, no EDNS0; a truncated UDP answer is retried over TCP by c-ares.
//
// Threading: callbacks run on the io_context's thread. Not thread-safe: use from that thread.
#pragma once

#include <asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace outpost::dns {

enum class Status { kOk, kNxDomain, kNullMx, kTempFail };
const char* StatusName(Status status);

struct MxHost {
  std::uint16_t preference = 0;
  std::string host;  // lower case, no trailing dot
};

struct MxResult {
  Status status = Status::kTempFail;
  std::vector<MxHost> hosts;    // sorted by preference
  bool implicit = false;        // no MX: the domain itself
  std::string error;            // human-readable reason for non-kOk
  std::chrono::seconds ttl{0};  // how long this answer may be used (0: not cacheable)
};

struct AddressResult {
  Status status = Status::kTempFail;   // kNxDomain also when the name has no A/AAAA at all
  std::vector<std::string> addresses;  // IPv4 first, then IPv6, textual
  std::string error;
  std::chrono::seconds ttl{0};  // how long this answer may be used (0: not cacheable)
};

struct ResolverStats {
  std::uint64_t cache_entries = 0;
  std::uint64_t cache_hits = 0;
  std::uint64_t cache_misses = 0;
  std::uint64_t queries = 0;   // sent to the DNS server
  std::uint64_t failures = 0;  // temporary failures
};

struct ResolverOptions {
  std::string server;  // "ADDR:PORT" (dns-server); empty = the system's resolv.conf
  std::uint64_t cache_size = 100000;
  std::chrono::seconds cache_ttl_cap{3600};
  std::chrono::milliseconds timeout{5000};  // per try
  int tries = 2;
  bool ipv6 = false;                       // also ask AAAA
  std::chrono::seconds negative_ttl{300};  // negative answers without an SOA (capped too)
};

// Thread-safety: not thread-safe; see the header comment.
class Resolver {
 public:
  virtual ~Resolver() = default;
  virtual void ResolveMx(const std::string& domain, std::function<void(MxResult)> done) = 0;
  virtual void ResolveAddress(const std::string& host, std::function<void(AddressResult)> done) = 0;
  virtual ResolverStats Stats() const = 0;
};

// The production resolver (c-ares driven by the io_context). Null + error on failure.
std::unique_ptr<Resolver> MakeAresResolver(asio::io_context& io, const ResolverOptions& options,
                                           std::string* error);

}  // namespace outpost::dns
