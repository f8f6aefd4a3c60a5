// SigningDeliverer: a fake inner Deliverer records what it is asked to send; each case checks
// whether the data arrives signed (starting with "DKIM-Signature:", with the expected d=, s=, a=,
// c= and the original message after it) or unchanged, under merged <domain> policies and reloads.
#include "mta/delivery/signing_deliverer.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <asio.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mta/delivery/work_pool.hpp"
#include "mta/dkim/dkim.hpp"

namespace outpost::delivery {
namespace {

using queue::BatchOutcome;
using queue::BatchRequest;
using queue::ConnectionId;
using queue::ConnectOutcome;
using queue::ConnectRequest;
using queue::ConnectStatus;
using queue::Deliverer;

// RFC 8463 Appendix A's Ed25519 seed and RFC 6376's 1024-bit RSA test key (test vectors only).
constexpr const char* kEd25519Seed = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=\n";
constexpr const char* kRsaKey =
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIICXQIBAAKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQi\n"
    "Y/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqM\n"
    "KrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB\n"
    "AoGAH0cxOhFZDgzXWhDhnAJDw5s4roOXN4OhjiXa8W7Y3rhX3FJqmJSPuC8N9vQm\n"
    "6SVbaLAE4SG5mLMueHlh4KXffEpuLEiNp9Ss3O4YfLiQpbRqE7Tm5SxKjvvQoZZe\n"
    "zHorimOaChRL2it47iuWxzxSiRMv4c+j70GiWdxXnxe4UoECQQDzJB/0U58W7RZy\n"
    "6enGVj2kWF732CoWFZWzi1FicudrBFoy63QwcowpoCazKtvZGMNlPWnC7x/6o8Gc\n"
    "uSe0ga2xAkEA8C7PipPm1/1fTRQvj1o/dDmZp243044ZNyxjg+/OPN0oWCbXIGxy\n"
    "WvmZbXriOWoSALJTjExEgraHEgnXssuk7QJBALl5ICsYMu6hMxO73gnfNayNgPxd\n"
    "WFV6Z7ULnKyV7HSVYF0hgYOHjeYe9gaMtiJYoo0zGN+L3AAtNP9huqkWlzECQE1a\n"
    "licIeVlo1e+qJ6Mgqr0Q7Aa7falZ448ccbSFYEPD6oFxiOl9Y9se9iYHZKKfIcst\n"
    "o7DUw1/hz2Ck4N5JrgUCQQCyKveNvjzkkd8HjYs0SwM0fPjK16//5qDZ2UiDGnOe\n"
    "uEzxBDAr518Z8VFbR41in3W4Y3yCDgQlLlcETrS+zYcL\n"
    "-----END RSA PRIVATE KEY-----\n";

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/outpost-signing-test-XXXXXX";
    path_ = mkdtemp(pattern);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string Write(const std::string& name, const std::string& content) const {
    std::string p = path_ + "/" + name;
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }

 private:
  std::string path_;
};

// Records each Send's data; answers Connect with ids 1, 2, ... synchronously.
class RecordingDeliverer final : public Deliverer {
 public:
  void Connect(const ConnectRequest&, std::function<void(ConnectOutcome)> done) override {
    ConnectOutcome o;
    o.status = ConnectStatus::kOk;
    o.id = ++last_id;
    done(o);
  }
  void Send(ConnectionId, BatchRequest batch, std::function<void(BatchOutcome)> done) override {
    sent.push_back(batch.data);
    done(BatchOutcome{});
  }
  void Close(ConnectionId, std::function<void()> closed) override {
    ++closes;
    closed();
  }
  ConnectionId last_id = 0;
  int closes = 0;
  std::vector<std::shared_ptr<const std::string>> sent;
};

// The value of tag `name` in a DKIM-Signature field, whitespace removed.
std::string Tag(const std::string& field, const std::string& name) {
  std::string flat;
  for (char c : field) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') flat += c;
  }
  std::size_t start = flat.find(";" + name + "=");
  if (start == std::string::npos) {
    start = flat.find(":" + name + "=");
    if (start == std::string::npos) return "<absent>";
  }
  start += name.size() + 2;
  std::size_t end = flat.find(';', start);
  return flat.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

std::string Message(const std::string& from) {
  return "From: Sender <sender@" + from +
         ">\r\nTo: rcpt@dest.test\r\nSubject: hi\r\n\tfolded\r\n\r\nbody line\r\n\r\n\r\n";
}

config::DomainPolicy Policy(const std::string& match, std::optional<bool> sign,
                            std::optional<std::string> algorithm = std::nullopt,
                            std::optional<std::string> canon = std::nullopt) {
  config::DomainPolicy p;
  p.match = match;
  p.dkim_sign = sign;
  p.dkim_algorithm = algorithm;
  p.dkim_headers_canon = canon;
  p.dkim_body_canon = canon;
  return p;
}

// Keys: example.com (Ed25519, selector ed), rsa.test (RSA, selector rs).
std::shared_ptr<config::Config> BaseConfig(const TempDir& dir) {
  auto c = std::make_shared<config::Config>();
  c->domain_keys.push_back({"ed", "example.com", dir.Write("ed.key", kEd25519Seed), "t.conf", 1});
  c->domain_keys.push_back({"rs", "rsa.test", dir.Write("rs.pem", kRsaKey), "t.conf", 2});
  c->domains.push_back(Policy("*", true));
  c->domains.push_back(Policy("nosign.test", false));
  c->domains.push_back(Policy("simple.test", std::nullopt, std::nullopt, "simple"));
  c->domains.push_back(Policy("wantrsa.test", std::nullopt, "rsa-sha256"));
  return c;
}

std::shared_ptr<const dkim::SignerCache> MustBuild(const config::Config& c) {
  dkim::SignerCache::BuildResult built = dkim::SignerCache::Build(c);
  for (const auto& e : built.errors) ADD_FAILURE() << e.ToString();
  return built.cache;
}

struct Case {
  const char* label;
  std::string destination;  // the connection's domain
  std::string from;         // the From: domain
  bool want_signed;
  std::string want_d, want_s, want_a, want_c;
  std::uint64_t want_no_key, want_failures;
};

TEST(SigningDeliverer, SignsPerMergedPolicyAndKey) {
  const std::vector<Case> cases = {
      {"* says sign, Ed25519 key for the From domain", "dest.test", "example.com", true,
       "example.com", "ed", "ed25519-sha256", "relaxed/relaxed", 0, 0},
      {"From domain upper case still finds its key", "dest.test", "EXAMPLE.com", true,
       "example.com", "ed", "ed25519-sha256", "relaxed/relaxed", 0, 0},
      {"RSA key, algorithm from the key's type", "dest.test", "rsa.test", true, "rsa.test", "rs",
       "rsa-sha256", "relaxed/relaxed", 0, 0},
      {"exact <domain> says no, overriding *", "nosign.test", "example.com", false, "", "", "", "",
       0, 0},
      {"exact <domain> sets canon, dkim-sign inherited from *", "simple.test", "example.com", true,
       "example.com", "ed", "ed25519-sha256", "simple/simple", 0, 0},
      {"no domain-key for the From domain: unsigned, counted", "dest.test", "nokey.test", false, "",
       "", "", "", 1, 0},
      {"policy's algorithm does not fit the key: unsigned, counted", "wantrsa.test", "example.com",
       false, "", "", "", "", 0, 1},
      {"policy's algorithm fits the key", "wantrsa.test", "rsa.test", true, "rsa.test", "rs",
       "rsa-sha256", "relaxed/relaxed", 0, 0},
  };
  TempDir dir;
  auto config = BaseConfig(dir);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    RecordingDeliverer inner;
    SigningDeliverer signing(inner, config, MustBuild(*config));
    ConnectionId id = 0;
    ConnectRequest request;
    request.domain = c.destination;
    signing.Connect(request, [&](ConnectOutcome o) { id = o.id; });
    ASSERT_EQ(id, 1u);
    auto data = std::make_shared<const std::string>(Message(c.from));
    BatchRequest batch;
    batch.data = data;
    bool answered = false;
    signing.Send(id, batch, [&](BatchOutcome) { answered = true; });
    EXPECT_TRUE(answered);
    ASSERT_EQ(inner.sent.size(), 1u);
    const std::string& got = *inner.sent[0];
    if (!c.want_signed) {
      EXPECT_EQ(inner.sent[0], data) << "forwarded unchanged (same buffer)";
      EXPECT_EQ(signing.Stats().signed_messages, 0u);
    } else {
      ASSERT_EQ(got.rfind("DKIM-Signature:", 0), 0u) << got;
      std::size_t end = got.find("\r\nFrom:");
      ASSERT_NE(end, std::string::npos);
      EXPECT_EQ(got.substr(end + 2), *data) << "the original message follows the field";
      const std::string field = got.substr(0, end);
      EXPECT_EQ(Tag(field, "d"), c.want_d);
      EXPECT_EQ(Tag(field, "s"), c.want_s);
      EXPECT_EQ(Tag(field, "a"), c.want_a);
      EXPECT_EQ(Tag(field, "c"), c.want_c);
      EXPECT_EQ(signing.Stats().signed_messages, 1u);
    }
    EXPECT_EQ(signing.Stats().unsigned_no_key, c.want_no_key);
    EXPECT_EQ(signing.Stats().sign_failures, c.want_failures);
  }
}

// dk-sign: a DomainKey-Signature after the DKIM-Signature (both asked), alone (DomainKeys only),
// or none with an Ed25519 key (counted as a DomainKeys failure; DKIM still signs).
TEST(SigningDeliverer, DomainKeysBesideOrInsteadOfDkim) {
  TempDir dir;
  auto config = BaseConfig(dir);
  config::DomainPolicy both = Policy("both.test", true);
  both.dk_sign = true;
  config::DomainPolicy dk_only = Policy("dkonly.test", false);
  dk_only.dk_sign = true;
  config->domains.push_back(both);
  config->domains.push_back(dk_only);
  struct DkCase {
    const char* destination;
    const char* from;
    const char* want_start;  // the first field of what is sent
    bool want_dk;
  };
  const std::vector<DkCase> cases = {{"both.test", "rsa.test", "DKIM-Signature:", true},
                                     {"dkonly.test", "rsa.test", "DomainKey-Signature:", true},
                                     {"both.test", "example.com", "DKIM-Signature:", false}};
  for (const DkCase& c : cases) {
    SCOPED_TRACE(std::string(c.destination) + " from " + c.from);
    RecordingDeliverer inner;
    SigningDeliverer signing(inner, config, MustBuild(*config));
    ConnectRequest request;
    request.domain = c.destination;
    signing.Connect(request, [](ConnectOutcome) {});
    BatchRequest batch;
    batch.data = std::make_shared<const std::string>(Message(c.from));
    signing.Send(1, batch, [](BatchOutcome) {});
    ASSERT_EQ(inner.sent.size(), 1u);
    const std::string& got = *inner.sent[0];
    EXPECT_EQ(got.rfind(c.want_start, 0), 0u) << got;
    std::size_t dk = got.find("\r\nDomainKey-Signature: a=rsa-sha1;");
    if (got.rfind("DomainKey-Signature:", 0) == 0) dk = 0;
    EXPECT_EQ(dk != std::string::npos, c.want_dk) << got;
    EXPECT_EQ(got.substr(got.find("From: Sender")), Message(c.from));
    EXPECT_EQ(signing.Stats().domainkeys_signed, c.want_dk ? 1u : 0u);
    EXPECT_EQ(signing.Stats().domainkeys_failures, c.want_dk ? 0u : 1u);
  }
}

TEST(SigningDeliverer, UnknownConnectionAndNoCacheForwardUnchanged) {
  TempDir dir;
  auto config = BaseConfig(dir);
  RecordingDeliverer inner;
  SigningDeliverer without_cache(inner, config, nullptr);
  ConnectionId id = 0;
  ConnectRequest request;
  request.domain = "dest.test";
  without_cache.Connect(request, [&](ConnectOutcome o) { id = o.id; });
  auto data = std::make_shared<const std::string>(Message("example.com"));
  BatchRequest batch;
  batch.data = data;
  without_cache.Send(id, batch, [](BatchOutcome) {});
  SigningDeliverer with_cache(inner, config, MustBuild(*config));
  with_cache.Send(99, batch, [](BatchOutcome) {});  // never connected through it
  ASSERT_EQ(inner.sent.size(), 2u);
  EXPECT_EQ(inner.sent[0], data);
  EXPECT_EQ(inner.sent[1], data);
}

TEST(SigningDeliverer, ReloadSwapsKeysAndPolicyForOpenConnections) {
  TempDir dir;
  auto config = BaseConfig(dir);
  RecordingDeliverer inner;
  SigningDeliverer signing(inner, config, MustBuild(*config));
  ConnectionId id = 0;
  ConnectRequest request;
  request.domain = "dest.test";
  signing.Connect(request, [&](ConnectOutcome o) { id = o.id; });
  BatchRequest batch;
  batch.data = std::make_shared<const std::string>(Message("example.com"));
  signing.Send(id, batch, [](BatchOutcome) {});
  ASSERT_EQ(inner.sent.size(), 1u);
  EXPECT_EQ(Tag(*inner.sent[0], "s"), "ed");

  // Reload 1: example.com's key is now an RSA key under selector s2.
  auto second = std::make_shared<config::Config>(*config);
  second->domain_keys[0] = {"s2", "example.com", dir.Write("s2.pem", kRsaKey), "t.conf", 1};
  signing.SetConfig(second, MustBuild(*second));
  signing.Send(id, batch, [](BatchOutcome) {});
  ASSERT_EQ(inner.sent.size(), 2u);
  EXPECT_EQ(Tag(*inner.sent[1], "s"), "s2");
  EXPECT_EQ(Tag(*inner.sent[1], "a"), "rsa-sha256");

  // Reload 2: signing switched off for every destination.
  auto third = std::make_shared<config::Config>(*second);
  third->domains[0].dkim_sign = false;
  signing.SetConfig(third, MustBuild(*third));
  signing.Send(id, batch, [](BatchOutcome) {});
  ASSERT_EQ(inner.sent.size(), 3u);
  EXPECT_EQ(inner.sent[2], batch.data);

  // Close forgets the connection and is forwarded.
  bool closed = false;
  signing.Close(id, [&] { closed = true; });
  EXPECT_TRUE(closed);
  EXPECT_EQ(inner.closes, 1);
}

// With a WorkPool the signature is made on a pool thread: Send() returns without calling the
// inner Deliverer; the pool posts the result back to the loop (this test's thread running an
// io_context), where the signed copy is sent and the counters move. Unsigned traffic does not
// wait for the pool.
TEST(SigningDeliverer, SignsOnThePoolOffTheLoop) {
  TempDir dir;
  auto config = BaseConfig(dir);
  asio::io_context io(1);
  const std::thread::id loop = std::this_thread::get_id();
  std::mutex mutex;
  std::vector<std::thread::id> posted_from;  // where each result was made
  WorkPool pool(2, 8, [&](std::function<void()> f) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      posted_from.push_back(std::this_thread::get_id());
    }
    asio::post(io, std::move(f));
  });
  RecordingDeliverer inner;
  SigningDeliverer signing(inner, config, MustBuild(*config), &pool);
  ConnectionId signed_id = 0;
  ConnectionId plain_id = 0;
  ConnectRequest request;
  request.domain = "dest.test";
  signing.Connect(request, [&](ConnectOutcome o) { signed_id = o.id; });
  request.domain = "nosign.test";
  signing.Connect(request, [&](ConnectOutcome o) { plain_id = o.id; });

  BatchRequest batch;
  batch.data = std::make_shared<const std::string>(Message("rsa.test"));
  std::thread::id answered_on;
  signing.Send(signed_id, batch, [&](BatchOutcome) { answered_on = std::this_thread::get_id(); });
  EXPECT_TRUE(inner.sent.empty()) << "nothing is sent before the pool's result reaches the loop";
  signing.Send(plain_id, batch, [](BatchOutcome) {});
  ASSERT_EQ(inner.sent.size(), 1u) << "unsigned traffic goes straight through";
  EXPECT_EQ(inner.sent[0], batch.data);

  auto run_until_sent = [&](std::size_t n) {
    while (inner.sent.size() < n) {
      io.restart();  // run_one() returns at once while no work is posted yet
      io.run_one();
    }
  };
  run_until_sent(2);
  ASSERT_EQ(inner.sent[1]->rfind("DKIM-Signature:", 0), 0u) << *inner.sent[1];
  EXPECT_EQ(Tag(*inner.sent[1], "d"), "rsa.test");
  EXPECT_EQ(answered_on, loop);
  EXPECT_EQ(signing.Stats().signed_messages, 1u);
  {
    std::lock_guard<std::mutex> lock(mutex);
    ASSERT_EQ(posted_from.size(), 1u);
    EXPECT_NE(posted_from[0], loop) << "the signature was made on a pool thread";
  }
  // A message without a key goes through the pool too and is counted on the loop.
  batch.data = std::make_shared<const std::string>(Message("nokey.test"));
  signing.Send(signed_id, batch, [](BatchOutcome) {});
  run_until_sent(3);
  EXPECT_EQ(inner.sent[2], batch.data);
  EXPECT_EQ(signing.Stats().unsigned_no_key, 1u);
  EXPECT_EQ(pool.Stats().done, 2u);
}

}  // namespace
}  // namespace outpost::delivery
