#include "mta/dns/caching_resolver.hpp"

#include <gtest/gtest.h>

#include <asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace outpost::dns {
namespace {

using std::chrono::seconds;

// Records lookups; the test completes them later (never inside the Lookup call).
class FakeBackend : public LookupBackend {
 public:
  struct Pending {
    std::string name;
    std::function<void(MxResult)> mx;
    std::function<void(AddressResult)> address;
  };
  void LookupMx(const std::string& domain, std::function<void(MxResult)> done) override {
    pending.push_back({domain, std::move(done), nullptr});
    ++queries;
  }
  void LookupAddress(const std::string& host, std::function<void(AddressResult)> done) override {
    pending.push_back({host, nullptr, std::move(done)});
    ++queries;
  }
  std::uint64_t QueriesSent() const override { return queries; }

  void FinishMx(MxResult result) {
    ASSERT_FALSE(pending.empty());
    Pending p = std::move(pending.front());
    pending.erase(pending.begin());
    ASSERT_TRUE(p.mx);
    p.mx(std::move(result));
  }
  void FinishAddress(AddressResult result) {
    ASSERT_FALSE(pending.empty());
    Pending p = std::move(pending.front());
    pending.erase(pending.begin());
    ASSERT_TRUE(p.address);
    p.address(std::move(result));
  }

  std::vector<Pending> pending;
  std::uint64_t queries = 0;
};

MxResult Mx(Status status, seconds ttl, std::vector<MxHost> hosts = {}) {
  MxResult r;
  r.status = status;
  r.ttl = ttl;
  r.hosts = std::move(hosts);
  return r;
}

AddressResult Addr(Status status, seconds ttl, std::vector<std::string> addresses = {}) {
  AddressResult r;
  r.status = status;
  r.ttl = ttl;
  r.addresses = std::move(addresses);
  return r;
}

class CachingResolverTest : public ::testing::Test {
 protected:
  void Make(std::uint64_t cache_size = 100, seconds cap = seconds{3600}) {
    ResolverOptions options;
    options.cache_size = cache_size;
    options.cache_ttl_cap = cap;
    auto backend = std::make_unique<FakeBackend>();
    backend_ = backend.get();
    resolver_ = std::make_unique<CachingResolver>(io_, std::move(backend), options, clock_);
  }

  // Asks for MX, lets the backend answer with `answer` if it was asked, returns what we got.
  std::optional<MxResult> AskMx(const std::string& name, std::optional<MxResult> answer = {}) {
    std::optional<MxResult> got;
    resolver_->ResolveMx(name, [&got](MxResult r) { got = std::move(r); });
    if (answer && !backend_->pending.empty()) backend_->FinishMx(*answer);
    io_.restart();
    io_.poll();
    return got;
  }
  std::optional<AddressResult> AskAddress(const std::string& name,
                                          std::optional<AddressResult> answer = {}) {
    std::optional<AddressResult> got;
    resolver_->ResolveAddress(name, [&got](AddressResult r) { got = std::move(r); });
    if (answer && !backend_->pending.empty()) backend_->FinishAddress(*answer);
    io_.restart();
    io_.poll();
    return got;
  }

  asio::io_context io_;
  SimulatedClock clock_;
  FakeBackend* backend_ = nullptr;
  std::unique_ptr<CachingResolver> resolver_;
};

TEST_F(CachingResolverTest, SecondLookupServedFromCacheWithRemainingTtl) {
  Make();
  const MxResult answer = Mx(Status::kOk, seconds{300}, {{10, "mx1.example.test"}});
  auto first = AskMx("Example.TEST.", answer);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->ttl, seconds{300});
  clock_.Advance(seconds{100});
  auto second = AskMx("example.test");  // same key after normalization
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, Status::kOk);
  ASSERT_EQ(second->hosts.size(), 1u);
  EXPECT_EQ(second->hosts[0].host, "mx1.example.test");
  EXPECT_EQ(second->ttl, seconds{200});
  const ResolverStats stats = resolver_->Stats();
  EXPECT_EQ(stats.queries, 1u);
  EXPECT_EQ(stats.cache_hits, 1u);
  EXPECT_EQ(stats.cache_misses, 1u);
  EXPECT_EQ(stats.cache_entries, 1u);
}

TEST_F(CachingResolverTest, EntryExpiresAtItsTtl) {
  Make();
  AskMx("example.test", Mx(Status::kOk, seconds{60}, {{10, "mx"}}));
  clock_.Advance(seconds{60});
  auto again = AskMx("example.test");
  EXPECT_FALSE(again) << "expired entry must not be served";
  EXPECT_EQ(backend_->queries, 2u);
}

struct CapCase {
  const char* label;
  seconds cap;
  seconds answer_ttl;
  seconds served_ttl;
  seconds still_cached_after;  // a hit just before this much time passes
};

TEST_F(CachingResolverTest, TtlCapTable) {
  const std::vector<CapCase> cases = {
      {"below cap", seconds{3600}, seconds{300}, seconds{300}, seconds{299}},
      {"above cap", seconds{60}, seconds{86400}, seconds{60}, seconds{59}},
      {"equal to cap", seconds{120}, seconds{120}, seconds{120}, seconds{119}},
  };
  for (const CapCase& c : cases) {
    SCOPED_TRACE(c.label);
    Make(100, c.cap);
    auto first = AskAddress("h.test", Addr(Status::kOk, c.answer_ttl, {"127.0.0.1"}));
    ASSERT_TRUE(first);
    EXPECT_EQ(first->ttl, c.served_ttl);
    clock_.Advance(c.still_cached_after);
    EXPECT_TRUE(AskAddress("h.test")) << "should still be cached";
    clock_.Advance(seconds{1});
    EXPECT_FALSE(AskAddress("h.test")) << "should have expired at the cap";
  }
}

struct NegativeCase {
  const char* label;
  MxResult answer;
  bool cached;
};

TEST_F(CachingResolverTest, WhatIsCachedTable) {
  MxResult implicit = Mx(Status::kOk, seconds{300}, {{0, "d.test"}});
  implicit.implicit = true;
  const std::vector<NegativeCase> cases = {
      {"nxdomain cached", Mx(Status::kNxDomain, seconds{300}), true},
      {"null mx cached", Mx(Status::kNullMx, seconds{300}), true},
      {"implicit mx cached", implicit, true},
      {"temp failure not cached", Mx(Status::kTempFail, seconds{300}), false},
      {"ttl 0 not cached", Mx(Status::kOk, seconds{0}, {{10, "mx"}}), false},
  };
  for (const NegativeCase& c : cases) {
    SCOPED_TRACE(c.label);
    Make();
    auto first = AskMx("d.test", c.answer);
    ASSERT_TRUE(first);
    EXPECT_EQ(first->status, c.answer.status);
    EXPECT_EQ(first->implicit, c.answer.implicit);
    auto second = AskMx("d.test");
    EXPECT_EQ(second.has_value(), c.cached);
    if (second) {
      EXPECT_EQ(second->status, c.answer.status);
    }
    EXPECT_EQ(resolver_->Stats().cache_entries, c.cached ? 1u : 0u);
    EXPECT_EQ(resolver_->Stats().failures, c.answer.status == Status::kTempFail ? 1u : 0u);
    if (!c.cached) {
      ASSERT_EQ(backend_->pending.size(), 1u) << "a miss must ask again";
      EXPECT_EQ(resolver_->Stats().queries, 2u);
    }
  }
}

TEST_F(CachingResolverTest, LeastRecentlyUsedEvicted) {
  Make(/*cache_size=*/2);
  AskAddress("a.test", Addr(Status::kOk, seconds{300}, {"127.0.0.1"}));
  AskAddress("b.test", Addr(Status::kOk, seconds{300}, {"127.0.0.2"}));
  EXPECT_TRUE(AskAddress("a.test"));  // a is now more recent than b
  AskAddress("c.test", Addr(Status::kOk, seconds{300}, {"127.0.0.3"}));  // evicts b
  EXPECT_EQ(resolver_->Stats().cache_entries, 2u);
  EXPECT_TRUE(AskAddress("a.test"));
  EXPECT_TRUE(AskAddress("c.test"));
  EXPECT_FALSE(AskAddress("b.test")) << "b was least recently used";
  EXPECT_EQ(backend_->pending.size(), 1u);
}

TEST_F(CachingResolverTest, MxAndAddressKeysAreSeparate) {
  Make();
  AskMx("x.test", Mx(Status::kOk, seconds{300}, {{5, "mx.x.test"}}));
  EXPECT_FALSE(AskAddress("x.test")) << "an MX answer must not answer an address question";
}

TEST_F(CachingResolverTest, ConcurrentLookupsShareOneQuery) {
  Make();
  std::vector<MxResult> got;
  for (int i = 0; i < 5; ++i) {
    resolver_->ResolveMx("shared.test", [&got](MxResult r) { got.push_back(std::move(r)); });
  }
  ASSERT_EQ(backend_->pending.size(), 1u);
  io_.poll();
  EXPECT_TRUE(got.empty()) << "nobody answered yet";
  backend_->FinishMx(Mx(Status::kOk, seconds{300}, {{10, "mx.shared.test"}}));
  io_.restart();
  io_.poll();
  ASSERT_EQ(got.size(), 5u);
  for (const MxResult& r : got) EXPECT_EQ(r.hosts.at(0).host, "mx.shared.test");
  EXPECT_EQ(resolver_->Stats().queries, 1u);
  EXPECT_EQ(resolver_->Stats().cache_misses, 5u);
}

TEST_F(CachingResolverTest, SharedTempFailureReachesEveryAskerAndIsNotCached) {
  Make();
  int failures = 0;
  for (int i = 0; i < 3; ++i) {
    resolver_->ResolveAddress("t.test", [&failures](AddressResult r) {
      if (r.status == Status::kTempFail) ++failures;
    });
  }
  backend_->FinishAddress(Addr(Status::kTempFail, seconds{300}));
  io_.poll();
  EXPECT_EQ(failures, 3);
  EXPECT_EQ(resolver_->Stats().failures, 1u);
  EXPECT_FALSE(AskAddress("t.test"));
  EXPECT_EQ(backend_->pending.size(), 1u);
}

TEST_F(CachingResolverTest, CallbacksNeverRunInsideResolve) {
  Make();
  AskMx("c.test", Mx(Status::kOk, seconds{300}, {{10, "mx"}}));
  bool called = false;
  resolver_->ResolveMx("c.test", [&called](MxResult) { called = true; });
  EXPECT_FALSE(called) << "a cache hit is posted, not called inline";
  io_.restart();
  io_.poll();
  EXPECT_TRUE(called);
}

TEST_F(CachingResolverTest, MxHostsSortedByPreference) {
  Make();
  auto got = AskMx("s.test", Mx(Status::kOk, seconds{300},
                                {{30, "c"}, {10, "a1"}, {20, "b"}, {10, "a2"}, {10, "a3"}}));
  ASSERT_TRUE(got);
  ASSERT_EQ(got->hosts.size(), 5u);
  for (std::size_t i = 1; i < got->hosts.size(); ++i) {
    EXPECT_LE(got->hosts[i - 1].preference, got->hosts[i].preference);
  }
  EXPECT_EQ(got->hosts[3].host, "b");
  EXPECT_EQ(got->hosts[4].host, "c");
}

TEST_F(CachingResolverTest, EmptyNameIsNxDomainWithoutQuery) {
  Make();
  auto got = AskMx(".");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, Status::kNxDomain);
  EXPECT_EQ(backend_->queries, 0u);
}

TEST_F(CachingResolverTest, CacheSizeZeroCachesNothing) {
  Make(/*cache_size=*/0);
  AskAddress("z.test", Addr(Status::kOk, seconds{300}, {"127.0.0.1"}));
  EXPECT_FALSE(AskAddress("z.test"));
  EXPECT_EQ(resolver_->Stats().cache_entries, 0u);
}

TEST_F(CachingResolverTest, DestroyedWithLookupInFlightDropsCallback) {
  Make();
  bool called = false;
  resolver_->ResolveMx("gone.test", [&called](MxResult) { called = true; });
  auto pending = std::move(backend_->pending);  // keep the completion beyond the resolver
  resolver_.reset();
  pending.at(0).mx(Mx(Status::kOk, seconds{300}, {{10, "mx"}}));
  io_.poll();
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace outpost::dns
