#include "mta/dns/caching_resolver.hpp"

#include <algorithm>
#include <asio/post.hpp>
#include <cctype>
#include <utility>

#include "common/strings.hpp"

namespace outpost::dns {
namespace {

// Sorts by preference and shuffles hosts of equal preference (RFC 5321 §5.1).
void OrderMxHosts(std::vector<MxHost>& hosts, std::mt19937& rng) {
  std::shuffle(hosts.begin(), hosts.end(), rng);
  std::stable_sort(hosts.begin(), hosts.end(),
                   [](const MxHost& a, const MxHost& b) { return a.preference < b.preference; });
}

}  // namespace

std::string NormalizeName(const std::string& name) {
  std::string out = name;
  while (!out.empty() && out.back() == '.') out.pop_back();
  AsciiLowercaseInPlace(out);
  return out;
}

CachingResolver::CachingResolver(asio::io_context& io, std::unique_ptr<LookupBackend> backend,
                                 const ResolverOptions& options, const Clock& clock)
    : io_(io),
      backend_(std::move(backend)),
      options_(options),
      clock_(clock),
      rng_(std::random_device{}()),
      alive_(std::make_shared<bool>(true)) {}

CachingResolver::~CachingResolver() {
  alive_.reset();
  backend_.reset();  // drops lookups in flight; their callbacks never run
}

void CachingResolver::ResolveMx(const std::string& domain, std::function<void(MxResult)> done) {
  const std::string name = NormalizeName(domain);
  if (name.empty()) {
    MxResult result;
    result.status = Status::kNxDomain;
    result.error = "empty domain name";
    Deliver(std::move(done), std::move(result));
    return;
  }
  Resolve<MxResult>("mx:" + name, mx_waiting_, std::move(done),
                    [this, name](std::function<void(MxResult)> complete) {
                      backend_->LookupMx(name, std::move(complete));
                    });
}

void CachingResolver::ResolveAddress(const std::string& host,
                                     std::function<void(AddressResult)> done) {
  const std::string name = NormalizeName(host);
  if (name.empty()) {
    AddressResult result;
    result.status = Status::kNxDomain;
    result.error = "empty host name";
    Deliver(std::move(done), std::move(result));
    return;
  }
  Resolve<AddressResult>("a:" + name, address_waiting_, std::move(done),
                         [this, name](std::function<void(AddressResult)> complete) {
                           backend_->LookupAddress(name, std::move(complete));
                         });
}

ResolverStats CachingResolver::Stats() const {
  ResolverStats stats = stats_;
  stats.cache_entries = lru_.size();
  stats.queries = backend_->QueriesSent();
  return stats;
}

template <typename Result>
void CachingResolver::Resolve(const std::string& key, Waiters<Result>& waiting,
                              std::function<void(Result)> done,
                              const std::function<void(std::function<void(Result)>)>& launch) {
  if (const Entry* entry = Find(key)) {
    ++stats_.cache_hits;
    Result result = std::get<Result>(entry->value);
    result.ttl = std::chrono::ceil<std::chrono::seconds>(entry->expires - clock_.NowMono());
    Deliver(std::move(done), std::move(result));
    return;
  }
  ++stats_.cache_misses;
  auto [it, first] = waiting.try_emplace(key);
  it->second.push_back(std::move(done));
  if (!first) return;  // already asked: share that answer
  std::weak_ptr<bool> alive = alive_;
  launch([this, alive, key, &waiting](Result result) {
    if (alive.expired()) return;
    Complete(key, waiting, std::move(result));
  });
}

template <typename Result>
void CachingResolver::Complete(const std::string& key, Waiters<Result>& waiting, Result result) {
  if (result.status == Status::kTempFail) {
    ++stats_.failures;
    result.ttl = std::chrono::seconds{0};
  } else {
    result.ttl = std::clamp(result.ttl, std::chrono::seconds{0}, options_.cache_ttl_cap);
    if (result.ttl.count() > 0) Store(key, result, result.ttl);
  }
  auto it = waiting.find(key);
  if (it == waiting.end()) return;
  std::vector<std::function<void(Result)>> waiters = std::move(it->second);
  waiting.erase(it);
  for (auto& waiter : waiters) Deliver(std::move(waiter), result);
}

const CachingResolver::Entry* CachingResolver::Find(const std::string& key) {
  auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  if (it->second->expires <= clock_.NowMono()) {
    lru_.erase(it->second);
    index_.erase(it);
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  return &*it->second;
}

void CachingResolver::Store(const std::string& key, const Value& value, std::chrono::seconds ttl) {
  if (options_.cache_size == 0) return;
  if (auto it = index_.find(key); it != index_.end()) {
    lru_.erase(it->second);
    index_.erase(it);
  }
  lru_.push_front(Entry{key, clock_.NowMono() + ttl, value});
  index_[key] = lru_.begin();
  while (lru_.size() > options_.cache_size) {
    index_.erase(lru_.back().key);
    lru_.pop_back();
  }
}

void CachingResolver::Deliver(std::function<void(MxResult)> done, MxResult result) {
  OrderMxHosts(result.hosts, rng_);
  asio::post(io_, [done = std::move(done), result = std::move(result)]() mutable {
    done(std::move(result));
  });
}

void CachingResolver::Deliver(std::function<void(AddressResult)> done, AddressResult result) {
  asio::post(io_, [done = std::move(done), result = std::move(result)]() mutable {
    done(std::move(result));
  });
}

}  // namespace outpost::dns
