#include "mta/smtp/auth_failure_tracker.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/base64.hpp"
#include "mta/smtp/session.hpp"

namespace outpost::smtp {
namespace {

IpAddress Ip(const char* text) { return *IpAddress::Parse(text); }

// One event on a simulated clock: at `t`, from `ip`, either a failure or a Blocked() check.
struct Event {
  std::int64_t t;
  const char* ip;
  bool failure;         // true: RecordFailure; false: Blocked
  bool expect_blocked;  // Blocked(): its answer; RecordFailure(): whether it reached the cap
};

struct Case {
  std::string label;
  int max_failures;
  std::int64_t window;
  std::size_t capacity;
  std::vector<Event> events;
};

TEST(AuthFailureTrackerTest, Table) {
  const std::vector<Case> cases = {
      {"cap reached within the window blocks",
       3,
       600,
       100,
       {{0, "192.0.2.1", true, false},
        {10, "192.0.2.1", true, false},
        {10, "192.0.2.1", false, false},
        {20, "192.0.2.1", true, true},
        {21, "192.0.2.1", false, true},
        {619, "192.0.2.1", false, true}}},
      {"block lasts one window from the failure that reached the cap",
       2,
       100,
       100,
       {{0, "192.0.2.1", true, false},
        {90, "192.0.2.1", true, true},
        {189, "192.0.2.1", false, true},
        {190, "192.0.2.1", false, false},
        {191, "192.0.2.1", true, false},
        {192, "192.0.2.1", false, false}}},
      {"failures spread over more than a window never block",
       2,
       100,
       100,
       {{0, "192.0.2.1", true, false},
        {100, "192.0.2.1", true, false},
        {200, "192.0.2.1", true, false},
        {201, "192.0.2.1", false, false}}},
      {"other addresses are not affected",
       1,
       600,
       100,
       {{0, "192.0.2.1", true, true},
        {1, "192.0.2.1", false, true},
        {1, "192.0.2.2", false, false},
        {1, "2001:db8::1", false, false}}},
      {"IPv6 counts per /64",
       2,
       600,
       100,
       {{0, "2001:db8:0:1::1", true, false},
        {1, "2001:db8:0:1::ffff", true, true},
        {2, "2001:db8:0:1:abcd::9", false, true},
        {2, "2001:db8:0:2::1", false, false}}},
      {"zero disables the cap",
       0,
       600,
       100,
       {{0, "192.0.2.1", true, false},
        {1, "192.0.2.1", true, false},
        {2, "192.0.2.1", false, false}}},
      {"the least recently failed address is forgotten at capacity",
       2,
       600,
       2,
       {{0, "192.0.2.1", true, false},
        {1, "192.0.2.2", true, false},
        {2, "192.0.2.1", true, true},   // .1 is now the most recent; .2 the least
        {3, "192.0.2.3", true, false},  // evicts .2
        {4, "192.0.2.2", true, false},  // .2 starts again from zero (evicts .1)
        {5, "192.0.2.3", false, false}}},
  };
  for (const Case& c : cases) {
    AuthFailureTracker tracker(c.capacity);
    for (std::size_t i = 0; i < c.events.size(); ++i) {
      const Event& ev = c.events[i];
      const bool got = ev.failure ? tracker.RecordFailure(Ip(ev.ip), c.max_failures, c.window, ev.t)
                                  : tracker.Blocked(Ip(ev.ip), c.max_failures, c.window, ev.t);
      EXPECT_EQ(got, ev.expect_blocked) << c.label << ", event " << i << " (t=" << ev.t << ")";
    }
    EXPECT_LE(tracker.size(), c.capacity) << c.label;
  }
}

TEST(AuthFailureTrackerTest, MemoryStaysBounded) {
  AuthFailureTracker tracker(1000);
  for (std::uint32_t i = 0; i < 50000; ++i) {
    IpAddress ip;
    ip.bytes = {10, static_cast<std::uint8_t>(i >> 16), static_cast<std::uint8_t>(i >> 8),
                static_cast<std::uint8_t>(i)};
    tracker.RecordFailure(ip, 5, 600, i);
  }
  EXPECT_EQ(tracker.size(), 1000u);
}

// Sessions from one address share the count: a reconnecting guesser gets 454 4.7.0 before its
// password is even checked, a different address is still served, and the window's end unblocks.
TEST(AuthFailureTrackerTest, ReconnectingDoesNotResetTheCount) {
  auto config = std::make_shared<config::Config>();
  config->host_name = "mta.example";
  config->smtp_users.push_back(config::SmtpUser{"alice", "s3cret", ""});
  config->max_auth_failures_per_ip = 4;
  config->auth_failure_window = std::chrono::seconds(600);
  AuthFailureTracker tracker;
  std::int64_t clock = 1700000000;
  auto session_from = [&](const char* ip) {
    SessionOptions o;
    o.config = config;
    o.client_ip = Ip(ip);
    o.peer = std::string("[") + ip + "]:1";
    o.tls_available = true;
    o.new_queue_id = [] { return std::string("QID0000000000001"); };
    o.now = [&clock] { return clock; };
    o.auth_failures_by_ip = &tracker;
    auto s = std::make_unique<Session>(std::move(o));
    std::string out;
    s->Greet(out);
    s->OnTlsEstablished("TLSv1.3 test");
    s->OnLine("EHLO c", out);
    return s;
  };
  auto auth = [](Session& s, const std::string& user, const std::string& pass) {
    std::string out;
    s.OnLine(
        "AUTH PLAIN " + EncodeBase64(std::string("\0", 1) + user + std::string("\0", 1) + pass),
        out);
    return out.substr(0, 9);
  };
  // Two sessions of 2 failures each (under the per-session cap of 3): 4 in all.
  for (int session = 0; session < 2; ++session) {
    auto s = session_from("192.0.2.7");
    EXPECT_EQ(auth(*s, "alice", "guess1"), "535 5.7.8") << "session " << session;
    EXPECT_EQ(auth(*s, "alice", "guess2"), "535 5.7.8") << "session " << session;
  }
  auto third = session_from("192.0.2.7");
  EXPECT_EQ(auth(*third, "alice", "s3cret"), "454 4.7.0") << "even the right password";
  std::string out;
  EXPECT_EQ(third->OnLine("NOOP", out), Action::kContinue);
  EXPECT_EQ(out.substr(0, 3), "250") << "other commands are served";
  auto other = session_from("192.0.2.8");
  EXPECT_EQ(auth(*other, "alice", "s3cret"), "235 2.7.0") << "another address";
  clock += 599;
  EXPECT_EQ(auth(*session_from("192.0.2.7"), "alice", "s3cret"), "454 4.7.0") << "window not over";
  clock += 1;
  EXPECT_EQ(auth(*session_from("192.0.2.7"), "alice", "s3cret"), "235 2.7.0") << "window over";
}

}  // namespace
}  // namespace outpost::smtp
