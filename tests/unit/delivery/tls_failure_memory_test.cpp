// TlsFailureMemory: keyed by what failed (host, address, port), expired by the injected clock,
// bounded, and persisted through an atomic file that a restart loads.
#include "mta/delivery/tls_failure_memory.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "common/clock.hpp"

namespace outpost::delivery {
namespace {

using outpost::SimulatedClock;

using namespace std::chrono_literals;

const TlsServerKey kA{"mx.example.net", "127.0.0.1", 2525};

TEST(TlsFailureMemory, KeyedByHostAddressAndPort) {
  SimulatedClock clock;
  TlsFailureMemory memory(clock);
  memory.Remember(kA);
  struct Case {
    const char* label;
    TlsServerKey key;
    bool failed;
  };
  const Case cases[] = {
      {"the server that failed", kA, true},
      {"same address, other port", {"mx.example.net", "127.0.0.1", 2526}, false},
      {"same address and port, other MX name", {"mx2.example.net", "127.0.0.1", 2525}, false},
      {"same name and port, other address", {"mx.example.net", "127.0.0.2", 2525}, false},
  };
  for (const Case& c : cases) EXPECT_EQ(memory.Failed(c.key), c.failed) << c.label;
}

TEST(TlsFailureMemory, ExpiresByTheInjectedClock) {
  SimulatedClock clock;
  TlsFailureMemory memory(clock, 3600s);
  memory.Remember(kA);
  clock.Advance(3599s);
  EXPECT_TRUE(memory.Failed(kA)) << "just before the hour";
  clock.Advance(1s);
  EXPECT_FALSE(memory.Failed(kA)) << "expired after the hour";
  EXPECT_EQ(memory.size(), 0u) << "the expired entry was dropped when asked";
  // Remembering again refreshes the expiry.
  memory.Remember(kA);
  clock.Advance(3000s);
  memory.Remember(kA);
  clock.Advance(3000s);
  EXPECT_TRUE(memory.Failed(kA));
}

TEST(TlsFailureMemory, BoundedOldestInsertionDroppedFirst) {
  SimulatedClock clock;
  TlsFailureMemory memory(clock, 3600s, 2);
  const TlsServerKey b{"b", "192.0.2.2", 25}, c{"c", "192.0.2.3", 25};
  memory.Remember(kA);
  memory.Remember(b);
  memory.Remember(c);
  EXPECT_EQ(memory.size(), 2u);
  EXPECT_FALSE(memory.Failed(kA)) << "oldest evicted";
  EXPECT_TRUE(memory.Failed(b));
  EXPECT_TRUE(memory.Failed(c));
}

TEST(TlsFailureMemory, SerializedFormSurvivesARestartAndKeepsTheRemainingLifetime) {
  SimulatedClock clock;
  TlsFailureMemory memory(clock, 3600s);
  memory.Remember(kA);
  clock.Advance(600s);
  const TlsServerKey b{"mx.other.test", "192.0.2.7", 25};
  memory.Remember(b);
  const std::string text = memory.Serialize();
  EXPECT_EQ(text.rfind("# outpost tls-failures v1\n", 0), 0u) << text;

  // "Restart" 100 s later: a new memory on a clock whose steady origin differs.
  SimulatedClock later(clock.Now().wall + 100s);
  TlsFailureMemory loaded(later, 3600s);
  EXPECT_EQ(loaded.Deserialize(text), 2u);
  EXPECT_TRUE(loaded.Failed(kA));
  EXPECT_TRUE(loaded.Failed(b));
  later.Advance(2899s);  // kA was remembered 3,599 s ago (600 + 100 + 2,899)
  EXPECT_TRUE(loaded.Failed(kA));
  later.Advance(1s);
  EXPECT_FALSE(loaded.Failed(kA)) << "expires an hour after the original failure";
  EXPECT_TRUE(loaded.Failed(b));
}

TEST(TlsFailureMemory, LoadSkipsExpiredAndMalformedLinesAndCapsTheLifetime) {
  SimulatedClock clock;
  const std::int64_t now = clock.Now().unix_seconds();
  const std::string text =
      "# outpost tls-failures v1\n" + std::to_string(now - 1) + " 25 192.0.2.1 expired.test\n" +
      "garbage line\n" + std::to_string(now + 60) + " 0 192.0.2.2 port-zero.test\n" +
      std::to_string(now + 60) + " 25 192.0.2.3\n" + std::to_string(now + 999999) +
      " 25 192.0.2.4 far-future.test\n" + std::to_string(now + 60) + " 587 192.0.2.5 ok.test\n";
  TlsFailureMemory memory(clock, 3600s);
  EXPECT_EQ(memory.Deserialize(text), 2u);
  EXPECT_TRUE(memory.Failed({"ok.test", "192.0.2.5", 587}));
  EXPECT_FALSE(memory.Failed({"expired.test", "192.0.2.1", 25}));
  clock.Advance(3600s);
  EXPECT_FALSE(memory.Failed({"far-future.test", "192.0.2.4", 25}))
      << "a wall clock set back cannot make an entry outlive the ttl";
}

TEST(TlsFailureMemory, PersistsAtMostMaxPersistedNewestEntries) {
  SimulatedClock clock;
  TlsFailureMemory memory(clock);
  const std::size_t n = TlsFailureMemory::kMaxPersisted + 5;
  for (std::size_t i = 0; i < n; ++i) {
    memory.Remember({"h" + std::to_string(i), "192.0.2.1", 25});
  }
  SimulatedClock other(clock.Now().wall);
  TlsFailureMemory loaded(other);
  EXPECT_EQ(loaded.Deserialize(memory.Serialize()), TlsFailureMemory::kMaxPersisted);
  EXPECT_FALSE(loaded.Failed({"h0", "192.0.2.1", 25})) << "the oldest are not persisted";
  EXPECT_TRUE(loaded.Failed({"h" + std::to_string(n - 1), "192.0.2.1", 25}));
}

TEST(TlsFailureMemory, SaveIsAtomicAndLoadReadsIt) {
  char dir_template[] = "/tmp/outpost-tlsmem-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::filesystem::path dir(dir_template);
  const std::string path = (dir / "tls-failures").string();
  SimulatedClock clock;
  TlsFailureMemory memory(clock);
  std::size_t loaded_count = 99;
  std::string error;
  EXPECT_TRUE(memory.Load(path, &loaded_count, &error)) << "a missing file is no error";
  EXPECT_EQ(loaded_count, 0u);
  memory.Remember(kA);
  ASSERT_TRUE(memory.Save(path, &error)) << error;
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp")) << "the temp file was renamed";
  TlsFailureMemory restarted(clock);
  ASSERT_TRUE(restarted.Load(path, &loaded_count, &error)) << error;
  EXPECT_EQ(loaded_count, 1u);
  EXPECT_TRUE(restarted.Failed(kA));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace outpost::delivery
