// The resolver's cache and query sharing, independent of how questions reach a DNS server.
//
// CachingResolver implements Resolver over a LookupBackend (c-ares in production, a fake in
// tests). It keys entries by question ("mx:" or "a:" + lower-case name), keeps at most
// `cache_size` of them in least-recently-used order, and answers a hit with the remaining TTL.
// Entries live for the backend's TTL capped by `cache_ttl_cap`; kTempFail answers and answers
// with TTL 0 are not stored. While a question is in flight, further askers wait for the same
// answer (one backend lookup). MX hosts of equal preference are shuffled for every asker.
//
// Time comes from a Clock (common/clock.hpp) so tests can expire entries without waiting.
// Error policy: errors are values (Status); nothing throws on the lookup path.
// Callbacks are posted to the io_context, never run inside ResolveMx/ResolveAddress.
#pragma once

#include <asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "common/clock.hpp"
#include "mta/dns/resolver.hpp"

namespace outpost::dns {

// One question sent upstream. Implementations call `done` exactly once, never from inside the
// Lookup call itself, and never after they are destroyed. Results carry the uncapped TTL.
// Thread-safety: implementations are used from the io_context's thread only.
class LookupBackend {
 public:
  virtual ~LookupBackend() = default;
  virtual void LookupMx(const std::string& domain, std::function<void(MxResult)> done) = 0;
  virtual void LookupAddress(const std::string& host, std::function<void(AddressResult)> done) = 0;
  // DNS queries sent so far (an address lookup with ipv6 sends two).
  virtual std::uint64_t QueriesSent() const = 0;
};

// Not thread-safe: use from the io_context's thread.
class CachingResolver final : public Resolver {
 public:
  // `clock` (steady time) must outlive the resolver; the system clock by default.
  CachingResolver(asio::io_context& io, std::unique_ptr<LookupBackend> backend,
                  const ResolverOptions& options, const Clock& clock = SystemClock::Instance());
  ~CachingResolver() override;

  void ResolveMx(const std::string& domain, std::function<void(MxResult)> done) override;
  void ResolveAddress(const std::string& host, std::function<void(AddressResult)> done) override;
  ResolverStats Stats() const override;

 private:
  using Value = std::variant<MxResult, AddressResult>;
  struct Entry {
    std::string key;
    std::chrono::steady_clock::time_point expires;
    Value value;
  };
  template <typename Result>
  using Waiters = std::unordered_map<std::string, std::vector<std::function<void(Result)>>>;

  template <typename Result>
  void Resolve(const std::string& key, Waiters<Result>& waiting, std::function<void(Result)> done,
               const std::function<void(std::function<void(Result)>)>& launch);
  template <typename Result>
  void Complete(const std::string& key, Waiters<Result>& waiting, Result result);
  // The cached value for `key`, if present and fresh (refreshed in LRU order).
  const Entry* Find(const std::string& key);
  void Store(const std::string& key, const Value& value, std::chrono::seconds ttl);
  void Deliver(std::function<void(MxResult)> done, MxResult result);
  void Deliver(std::function<void(AddressResult)> done, AddressResult result);

  asio::io_context& io_;
  std::unique_ptr<LookupBackend> backend_;
  ResolverOptions options_;
  const Clock& clock_;
  std::mt19937 rng_;
  std::list<Entry> lru_;  // front: most recently used
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  Waiters<MxResult> mx_waiting_;
  Waiters<AddressResult> address_waiting_;
  std::shared_ptr<bool> alive_;  // backend callbacks check it (belt and braces)
  ResolverStats stats_;
};

// Lower case, no trailing dot: the form of names in keys and results.
std::string NormalizeName(const std::string& name);

}  // namespace outpost::dns
