// The c-ares/Asio glue against scripted DNS servers living in the same io_context on 127.0.0.1
// (no dnsmasq needed; the dnsmasq tests are in tests/integration/test_dns_resolver.py).
#include "mta/dns/ares_backend.hpp"

#include <gtest/gtest.h>

#include <asio/io_context.hpp>
#include <asio/ip/udp.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mta/dns/resolver.hpp"

namespace outpost::dns {
namespace {

using Bytes = std::vector<unsigned char>;
using std::chrono::seconds;

constexpr std::uint16_t kA = 1, kSoa = 6, kMx = 15, kAaaa = 28;

void Put16(Bytes& b, std::uint16_t v) {
  b.push_back(static_cast<unsigned char>(v >> 8));
  b.push_back(static_cast<unsigned char>(v));
}
void Put32(Bytes& b, std::uint32_t v) {
  Put16(b, static_cast<std::uint16_t>(v >> 16));
  Put16(b, static_cast<std::uint16_t>(v));
}
void PutName(Bytes& b, const std::string& name) {
  std::size_t start = 0;
  while (start < name.size()) {
    std::size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    b.push_back(static_cast<unsigned char>(dot - start));
    b.insert(b.end(), name.begin() + start, name.begin() + dot);
    start = dot + 1;
  }
  b.push_back(0);
}

struct Record {
  std::uint16_t type;
  std::uint32_t ttl;
  Bytes rdata;
};
Record MxRecord(std::uint16_t pref, const std::string& host, std::uint32_t ttl) {
  Bytes rdata;
  Put16(rdata, pref);
  PutName(rdata, host);
  return {kMx, ttl, rdata};
}
Record SoaRecord(std::uint32_t ttl, std::uint32_t minimum) {
  Bytes rdata;
  PutName(rdata, "ns.test");
  PutName(rdata, "hostmaster.test");
  for (std::uint32_t v : {1u, 3600u, 600u, 86400u, minimum}) Put32(rdata, v);
  return {kSoa, ttl, rdata};
}

// What the scripted server does with one question (its type): answer, or stay silent.
struct Reply {
  int rcode = 0;
  std::vector<Record> answers;
  std::vector<Record> authority;
};
using Script = std::function<std::optional<Reply>(std::uint16_t qtype)>;

// A UDP DNS server on 127.0.0.1:0 answering from a script. Not thread-safe (io thread only).
class ScriptedServer {
 public:
  ScriptedServer(asio::io_context& io, Script script)
      : socket_(io, asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        script_(std::move(script)) {
    Receive();
  }
  std::string address() const {
    return "127.0.0.1:" + std::to_string(socket_.local_endpoint().port());
  }
  int queries = 0;

 private:
  void Receive() {
    socket_.async_receive_from(asio::buffer(buffer_), peer_,
                               [this](const asio::error_code& ec, std::size_t n) {
                                 if (ec) return;
                                 Answer(Bytes(buffer_, buffer_ + n));
                                 Receive();
                               });
  }
  void Answer(const Bytes& query) {
    ++queries;
    std::size_t end = 12;
    while (end < query.size() && query[end] != 0) end += 1 + query[end];
    end += 5;  // root label, QTYPE, QCLASS
    if (end > query.size()) return;
    const std::uint16_t qtype = static_cast<std::uint16_t>((query[end - 4] << 8) | query[end - 3]);
    std::optional<Reply> reply = script_(qtype);
    if (!reply) return;
    Bytes out(query.begin(), query.begin() + 2);  // id
    Put16(out, static_cast<std::uint16_t>(0x8180 | reply->rcode));
    Put16(out, 1);
    Put16(out, static_cast<std::uint16_t>(reply->answers.size()));
    Put16(out, static_cast<std::uint16_t>(reply->authority.size()));
    Put16(out, 0);
    out.insert(out.end(), query.begin() + 12, query.begin() + static_cast<long>(end));
    for (const auto* section : {&reply->answers, &reply->authority}) {
      for (const Record& r : *section) {
        out.push_back(0xC0);  // owner: the question name
        out.push_back(12);
        Put16(out, r.type);
        Put16(out, 1);
        Put32(out, r.ttl);
        Put16(out, static_cast<std::uint16_t>(r.rdata.size()));
        out.insert(out.end(), r.rdata.begin(), r.rdata.end());
      }
    }
    asio::error_code ignored;
    socket_.send_to(asio::buffer(out), peer_, 0, ignored);
  }

  asio::ip::udp::socket socket_;
  Script script_;
  unsigned char buffer_[1500];
  asio::ip::udp::endpoint peer_;
};

class AresResolverTest : public ::testing::Test {
 protected:
  std::unique_ptr<Resolver> Make(const std::string& server, bool ipv6 = false, int tries = 1) {
    ResolverOptions options;
    options.server = server;
    options.timeout = std::chrono::milliseconds{200};
    options.tries = tries;
    options.ipv6 = ipv6;
    options.negative_ttl = seconds{77};
    std::string error;
    auto resolver = MakeAresResolver(io_, options, &error);
    EXPECT_TRUE(resolver) << error;
    return resolver;
  }
  template <typename Result>
  Result Wait(std::optional<Result>& slot) {
    const auto deadline = std::chrono::steady_clock::now() + seconds{10};
    while (!slot && std::chrono::steady_clock::now() < deadline) {
      io_.run_one_for(std::chrono::milliseconds{50});
    }
    EXPECT_TRUE(slot) << "no answer before the deadline";
    return slot.value_or(Result{});
  }
  MxResult Mx(Resolver& r, const std::string& name) {
    std::optional<MxResult> got;
    r.ResolveMx(name, [&got](MxResult m) { got = std::move(m); });
    return Wait(got);
  }
  AddressResult Address(Resolver& r, const std::string& name) {
    std::optional<AddressResult> got;
    r.ResolveAddress(name, [&got](AddressResult a) { got = std::move(a); });
    return Wait(got);
  }

  asio::io_context io_;
};

struct MxCase {
  const char* label;
  Reply reply;
  Status status;
  std::vector<std::string> hosts;
  bool implicit;
  seconds ttl;
};

TEST_F(AresResolverTest, MxAnswersTable) {
  const std::vector<MxCase> cases = {
      {"mx set ordered, ttl is the minimum",
       {0, {MxRecord(20, "MX2.d.test.", 300), MxRecord(10, "mx1.d.test", 120)}, {}},
       Status::kOk,
       {"mx1.d.test", "mx2.d.test"},
       false,
       seconds{120}},
      {"null mx", {0, {MxRecord(0, "", 600)}, {}}, Status::kNullMx, {}, false, seconds{600}},
      {"null mx beside a real host is dropped",
       {0, {MxRecord(0, "", 600), MxRecord(10, "mx.d.test", 600)}, {}},
       Status::kOk,
       {"mx.d.test"},
       false,
       seconds{600}},
      {"nodata with soa: implicit mx, soa negative ttl",
       {0, {}, {SoaRecord(3600, 42)}},
       Status::kOk,
       {"d.test"},
       true,
       seconds{42}},
      {"nodata without soa: implicit mx, default negative ttl",
       {0, {}, {}},
       Status::kOk,
       {"d.test"},
       true,
       seconds{77}},
      {"nxdomain with soa",
       {3, {}, {SoaRecord(30, 900)}},
       Status::kNxDomain,
       {},
       false,
       seconds{30}},
      {"nxdomain without soa", {3, {}, {}}, Status::kNxDomain, {}, false, seconds{77}},
      {"servfail", {2, {}, {}}, Status::kTempFail, {}, false, seconds{0}},
      {"refused", {5, {}, {}}, Status::kTempFail, {}, false, seconds{0}},
  };
  for (const MxCase& c : cases) {
    SCOPED_TRACE(c.label);
    ScriptedServer server(io_, [&c](std::uint16_t) { return c.reply; });
    auto resolver = Make(server.address());
    ASSERT_TRUE(resolver);
    const MxResult got = Mx(*resolver, "D.test");
    EXPECT_EQ(got.status, c.status) << got.error;
    std::vector<std::string> hosts;
    for (const MxHost& h : got.hosts) hosts.push_back(h.host);
    EXPECT_EQ(hosts, c.hosts);
    EXPECT_EQ(got.implicit, c.implicit);
    EXPECT_EQ(got.ttl, c.ttl);
    if (c.status != Status::kOk) {
      EXPECT_FALSE(got.error.empty());
    }
  }
}

TEST_F(AresResolverTest, SilentServerTimesOutAsTempFailAfterEveryTry) {
  ScriptedServer server(io_, [](std::uint16_t) { return std::nullopt; });
  auto resolver = Make(server.address(), false, /*tries=*/2);
  const MxResult got = Mx(*resolver, "slow.test");
  EXPECT_EQ(got.status, Status::kTempFail);
  EXPECT_EQ(server.queries, 2);
  EXPECT_EQ(resolver->Stats().failures, 1u);
}

TEST_F(AresResolverTest, ClosedPortIsTempFail) {
  std::string address;
  {
    asio::ip::udp::socket probe(io_,
                                asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    address = "127.0.0.1:" + std::to_string(probe.local_endpoint().port());
  }
  auto resolver = Make(address);
  EXPECT_EQ(Mx(*resolver, "closed.test").status, Status::kTempFail);
}

TEST_F(AresResolverTest, ServfailIsNotCachedAndAskedAgain) {
  ScriptedServer server(io_, [](std::uint16_t) { return Reply{2, {}, {}}; });
  auto resolver = Make(server.address());
  EXPECT_EQ(Mx(*resolver, "sf.test").status, Status::kTempFail);
  EXPECT_EQ(Mx(*resolver, "sf.test").status, Status::kTempFail);
  EXPECT_EQ(server.queries, 2);
  EXPECT_EQ(resolver->Stats().cache_hits, 0u);
}

TEST_F(AresResolverTest, AddressesIpv4ThenIpv6WithMinimumTtl) {
  ScriptedServer server(io_, [](std::uint16_t qtype) -> std::optional<Reply> {
    if (qtype == kA) return Reply{0, {{kA, 500, {127, 0, 0, 9}}}, {}};
    Bytes v6(16, 0);
    v6[15] = 1;
    return Reply{0, {{kAaaa, 200, v6}}, {}};
  });
  auto resolver = Make(server.address(), /*ipv6=*/true);
  const AddressResult got = Address(*resolver, "h.test");
  EXPECT_EQ(got.status, Status::kOk);
  EXPECT_EQ(got.addresses, (std::vector<std::string>{"127.0.0.9", "::1"}));
  EXPECT_EQ(got.ttl, seconds{200});
  EXPECT_EQ(resolver->Stats().queries, 2u);
  const AddressResult again = Address(*resolver, "h.test");
  EXPECT_EQ(again.addresses, got.addresses);
  EXPECT_EQ(resolver->Stats().queries, 2u) << "second lookup must come from the cache";
  EXPECT_EQ(resolver->Stats().cache_hits, 1u);
}

TEST_F(AresResolverTest, AddressWithOneFamilyFailingIsOkButNotCached) {
  ScriptedServer server(io_, [](std::uint16_t qtype) -> std::optional<Reply> {
    if (qtype == kA) return Reply{0, {{kA, 500, {127, 0, 0, 9}}}, {}};
    return Reply{2, {}, {}};
  });
  auto resolver = Make(server.address(), /*ipv6=*/true);
  const AddressResult got = Address(*resolver, "half.test");
  EXPECT_EQ(got.status, Status::kOk);
  EXPECT_EQ(got.addresses, (std::vector<std::string>{"127.0.0.9"}));
  EXPECT_EQ(got.ttl, seconds{0});
  EXPECT_EQ(resolver->Stats().cache_entries, 0u);
}

TEST_F(AresResolverTest, NoAddressRecordsIsNxDomain) {
  ScriptedServer server(io_, [](std::uint16_t) { return Reply{0, {}, {SoaRecord(60, 60)}}; });
  auto resolver = Make(server.address(), /*ipv6=*/true);
  const AddressResult got = Address(*resolver, "empty.test");
  EXPECT_EQ(got.status, Status::kNxDomain);
  EXPECT_EQ(got.ttl, seconds{60});
}

TEST_F(AresResolverTest, ManyConcurrentLookupsAllAnswered) {
  ScriptedServer server(io_, [](std::uint16_t) {
    return Reply{0, {MxRecord(10, "mx.many.test", 300)}, {}};
  });
  auto resolver = Make(server.address());
  int answered = 0;
  for (int i = 0; i < 200; ++i) {
    resolver->ResolveMx("d" + std::to_string(i) + ".test", [&answered](MxResult r) {
      if (r.status == Status::kOk) ++answered;
    });
  }
  const auto deadline = std::chrono::steady_clock::now() + seconds{10};
  while (answered < 200 && std::chrono::steady_clock::now() < deadline) {
    io_.run_one_for(std::chrono::milliseconds{50});
  }
  EXPECT_EQ(answered, 200);
  EXPECT_EQ(resolver->Stats().queries, 200u);
}

TEST_F(AresResolverTest, DestroyWithQueryInFlightDropsCallback) {
  ScriptedServer server(io_, [](std::uint16_t) { return std::nullopt; });
  auto resolver = Make(server.address());
  bool called = false;
  resolver->ResolveMx("never.test", [&called](MxResult) { called = true; });
  while (server.queries == 0) io_.run_one_for(std::chrono::milliseconds{50});
  resolver.reset();
  io_.poll();  // runs whatever was queued; must not crash
  EXPECT_FALSE(called);
}

TEST_F(AresResolverTest, BadServerIsAnError) {
  ResolverOptions options;
  options.server = "dns.example:53";
  std::string error;
  EXPECT_FALSE(MakeAresResolver(io_, options, &error));
  EXPECT_NE(error.find("not an IP address"), std::string::npos) << error;
}

}  // namespace
}  // namespace outpost::dns
