#include "tools/isp-sim/sim_config.hpp"

#include <gtest/gtest.h>

namespace outpost::isp_sim {
namespace {

constexpr const char* kExample = R"(# the example from docs/tools.md
listen 127.0.0.1:2525
stats-listen [::1]:0        # stats
hostname mx.sim.test
record-message-ids 10
max-conn-per-ip 3 "421 4.7.0 Too many connections from you"
<domain Gmail.com>
  defer-ratio 0.3 "421-4.7.28 [192.0.2.1] Our system has detected an unusual rate\n421 4.7.28 of unsolicited mail. # not a comment"
  bounce-ratio 0.05 "550 5.1.1 The email account that you tried to reach does not exist."
  reply-delay 200ms
  drop-mid-data-ratio 0.1
  max-conn-per-ip 5 "421 4.7.0 Too many concurrent connections"
</domain>
<domain *> accept </domain>
)";

TEST(SimConfigTest, ParsesTheDocumentedExample) {
  std::string error;
  auto c = SimConfig::Parse(kExample, &error);
  ASSERT_TRUE(c) << error;
  EXPECT_EQ(c->listen.host, "127.0.0.1");
  EXPECT_EQ(c->listen.port, 2525);
  EXPECT_EQ(c->stats_listen.host, "::1");
  EXPECT_EQ(c->hostname, "mx.sim.test");
  EXPECT_EQ(c->record_message_ids, 10u);
  EXPECT_EQ(c->max_conn_per_ip, 3u);
  EXPECT_EQ(c->max_conn_reply.Wire(), "421 4.7.0 Too many connections from you\r\n");
  ASSERT_EQ(c->domains.size(), 2u);
  const DomainPolicy& g = c->domains[0];
  EXPECT_EQ(g.name, "gmail.com");
  EXPECT_EQ(g.defer_ppm, 300'000u);
  EXPECT_EQ(g.defer_reply.Wire(),
            "421-4.7.28 [192.0.2.1] Our system has detected an unusual rate\r\n"
            "421 4.7.28 of unsolicited mail. # not a comment\r\n");
  EXPECT_EQ(g.bounce_ppm, 50'000u);
  EXPECT_EQ(g.bounce_reply.code, 550);
  EXPECT_EQ(g.reply_delay, std::chrono::milliseconds(200));
  EXPECT_EQ(g.drop_mid_data_ppm, 100'000u);
  EXPECT_EQ(g.max_conn_per_ip, 5u);
  EXPECT_EQ(c->domains[1].name, "*");
  EXPECT_EQ(c->domains[1].defer_ppm, 0u);
  EXPECT_EQ(c->PolicyIndexFor("gmail.com"), 0);
  EXPECT_EQ(c->PolicyIndexFor("yahoo.com"), 1);
}

TEST(SimConfigTest, FaultDirectives) {
  std::string error;
  auto c = SimConfig::Parse(
      "split-replies yes\nstarttls-fail yes\n<domain f.test>\n  reset-mid-data-ratio 0.25\n"
      "  silent-after-data-ratio 50%\n  garbage-reply-ratio 1\n</domain>\n",
      &error);
  ASSERT_TRUE(c) << error;
  EXPECT_TRUE(c->split_replies);
  EXPECT_TRUE(c->starttls_fail);
  ASSERT_EQ(c->domains.size(), 1u);
  EXPECT_EQ(c->domains[0].reset_mid_data_ppm, 250'000u);
  EXPECT_EQ(c->domains[0].silent_after_data_ppm, 500'000u);
  EXPECT_EQ(c->domains[0].garbage_reply_ppm, 1'000'000u);
  auto off = SimConfig::Parse("split-replies no\n", &error);
  ASSERT_TRUE(off) << error;
  EXPECT_FALSE(off->split_replies);
  EXPECT_FALSE(off->starttls_fail);
  EXPECT_EQ(off->silent_greeting_ppm, 0u);
}

TEST(SimConfigTest, SilentGreeting) {
  struct Case {
    const char* label;
    const char* text;
    std::uint32_t ppm;
  };
  const Case cases[] = {
      {"yes", "silent-greeting yes\n", 1'000'000},
      {"no", "silent-greeting no\n", 0},
      {"ratio", "silent-greeting-ratio 0.5\n", 500'000},
      {"percent", "silent-greeting-ratio 25%\n", 250'000},
  };
  for (const Case& c : cases) {
    std::string error;
    auto parsed = SimConfig::Parse(c.text, &error);
    ASSERT_TRUE(parsed) << c.label << ": " << error;
    EXPECT_EQ(parsed->silent_greeting_ppm, c.ppm) << c.label;
  }
}

TEST(SimConfigTest, DefaultsWithoutBlocks) {
  std::string error;
  auto c = SimConfig::Parse("greeting \"421 4.3.2 Service not available\"\n", &error);
  ASSERT_TRUE(c) << error;
  EXPECT_EQ(c->listen.port, 0);
  ASSERT_TRUE(c->greeting);
  EXPECT_EQ(c->greeting->code, 421);
  EXPECT_EQ(c->PolicyIndexFor("any.example"), -1);
}

TEST(SimConfigTest, RejectsBadInput) {
  struct Case {
    const char* label;
    const char* text;
    const char* want_in_error;
  };
  const Case cases[] = {
      {"unknown directive", "listen 127.0.0.1:0\nfrobnicate 1\n", "line 2: unknown directive"},
      {"unknown domain directive", "<domain a>\n  frob\n</domain>\n", "line 2: unknown directive"},
      {"ratio above one", "<domain a>\ndefer-ratio 1.2\n</domain>\n", "ratio"},
      {"defer with 5xx", "<domain a>\ndefer-ratio 0.1 \"550 no\"\n</domain>\n", "out of range"},
      {"bounce with 4xx", "<domain a>\nbounce-ratio 0.1 \"451 no\"\n</domain>\n", "out of range"},
      {"reply without code", "<domain a>\ndefer-ratio 0.1 \"try later\"\n</domain>\n",
       "3-digit code"},
      {"unterminated string", "greeting \"220 hi\n", "unterminated quoted string"},
      {"unterminated block", "<domain a>\naccept\n", "unterminated <domain a>"},
      {"stray close", "</domain>\n", "without <domain>"},
      {"nested block", "<domain a>\n<domain b>\n", "nested"},
      {"duplicate block", "<domain a> accept </domain>\n<domain A> accept </domain>\n",
       "duplicate"},
      {"bad delay", "<domain a>\nreply-delay fast\n</domain>\n", "duration"},
      {"bad listen", "listen nowhere\n", "HOST:PORT"},
      {"tls not implemented", "tls-certificate /x.pem\n", "not implemented"},
      {"accept takes no args", "<domain a> accept 1 </domain>\n", "wrong number"},
      {"split-replies not a boolean", "split-replies maybe\n", "yes or no"},
      {"starttls-fail without value", "starttls-fail\n", "yes or no"},
      {"silent-greeting not a boolean", "silent-greeting sometimes\n", "yes or no"},
      {"silent-greeting-ratio above one", "silent-greeting-ratio 1.5\n", "ratio"},
      {"garbage ratio above one", "<domain a>\ngarbage-reply-ratio 2\n</domain>\n", "ratio"},
  };
  for (const auto& c : cases) {
    std::string error;
    EXPECT_FALSE(SimConfig::Parse(c.text, &error)) << c.label;
    EXPECT_NE(error.find(c.want_in_error), std::string::npos) << c.label << ": " << error;
  }
}

TEST(ReplyTest, ParseAndWire) {
  struct Case {
    const char* label;
    const char* text;
    const char* want_wire;
  };
  const Case cases[] = {
      {"single line", "550 5.1.1 No such user", "550 5.1.1 No such user\r\n"},
      {"single line written with dash", "421-4.7.28 Slow down", "421 4.7.28 Slow down\r\n"},
      {"multi-line with codes", "421-a\n421 b", "421-a\r\n421 b\r\n"},
      {"multi-line without codes", "421 a\nb\nc", "421-a\r\n421-b\r\n421 c\r\n"},
      {"bare code", "250", "250 \r\n"},
  };
  for (const auto& c : cases) {
    std::string error;
    auto r = Reply::Parse(c.text, &error);
    ASSERT_TRUE(r) << c.label << ": " << error;
    EXPECT_EQ(r->Wire(), c.want_wire) << c.label;
  }
}

TEST(DurationTest, Parse) {
  EXPECT_EQ(ParseDuration("200ms"), std::chrono::milliseconds(200));
  EXPECT_EQ(ParseDuration("2s"), std::chrono::milliseconds(2000));
  EXPECT_EQ(ParseDuration("1m"), std::chrono::milliseconds(60000));
  EXPECT_EQ(ParseDuration("0"), std::chrono::milliseconds(0));
  EXPECT_EQ(ParseDuration("5"), std::nullopt);
  EXPECT_EQ(ParseDuration("ms"), std::nullopt);
}

}  // namespace
}  // namespace outpost::isp_sim
