// ParseReply: complete, multi-line, incomplete at every split point, enhanced codes, malformed.
#include <gtest/gtest.h>

#include <string>

#include "mta/delivery/smtp_client.hpp"

namespace outpost::delivery {
namespace {

struct ParseCase {
  const char* label;
  std::string input;
  std::size_t consumed;  // 0 = incomplete
  int code;
  std::string enhanced;
  std::string text;
};

TEST(ParseReply, Table) {
  const std::string gmail =
      "421-4.7.28 Our system has detected an unusual rate of\r\n"
      "421-4.7.28 unsolicited mail originating from your IP address.\r\n"
      "421 4.7.28 Try again later. - gsmtp\r\n";
  const ParseCase cases[] = {
      {"single", "250 ok\r\n", 8, 250, "", "ok"},
      {"single with enhanced", "550 5.1.1 user unknown\r\n", 24, 550, "5.1.1", "user unknown"},
      {"code only", "250\r\n", 5, 250, "", ""},
      {"multi-line enhanced on every line", gmail, gmail.size(), 421, "4.7.28",
       "Our system has detected an unusual rate of unsolicited mail originating from your IP "
       "address. Try again later. - gsmtp"},
      {"ehlo multi-line", "250-mx.test\r\n250-PIPELINING\r\n250 SIZE 1000\r\n", 44, 250, "",
       "mx.test PIPELINING SIZE 1000"},
      {"stops after last line", "250 a\r\n354 b\r\n", 7, 250, "", "a"},
      {"bare LF accepted", "220 hi\n", 7, 220, "", "hi"},
      {"enhanced class must match code", "550 4.1.1 odd\r\n", 15, 550, "", "4.1.1 odd"},
      {"version-like text is not enhanced", "250 2.0.0.1 x\r\n", 15, 250, "", "2.0.0.1 x"},
      {"3-digit detail", "451 4.7.650 rate limited\r\n", 26, 451, "4.7.650", "rate limited"},
      {"incomplete line", "250 ok", 0, 0, "", ""},
      {"incomplete multi-line", "250-a\r\n250-b\r\n", 0, 0, "", ""},
      {"empty", "", 0, 0, "", ""},
      {"malformed: letters", "hello\r\n250 ok\r\n", 7, 0, "", ""},
      {"malformed: bad separator", "250_ok\r\n", 8, 0, "", ""},
      {"malformed: code 6xx", "650 x\r\n", 7, 0, "", ""},
      {"malformed: code changes mid-reply", "250-a\r\n251 b\r\n", 14, 0, "", ""},
  };
  for (const ParseCase& c : cases) {
    SCOPED_TRACE(c.label);
    Reply r;
    r.code = 999;
    std::size_t n = ParseReply(c.input, r);
    EXPECT_EQ(n, c.consumed);
    if (n == 0) continue;
    EXPECT_EQ(r.code, c.code);
    EXPECT_EQ(r.enhanced, c.enhanced);
    EXPECT_EQ(r.text, c.text);
  }
}

// Every prefix of a reply is incomplete; the whole gives the same result as one piece.
TEST(ParseReply, SplitAtEveryByte) {
  const std::string reply =
      "452-4.2.2 The email account that you tried to reach is over quota.\r\n"
      "452 4.2.2 Please direct the recipient to https://support.example/x\r\n";
  for (std::size_t cut = 0; cut < reply.size(); ++cut) {
    SCOPED_TRACE("prefix of " + std::to_string(cut) + " bytes");
    Reply r;
    EXPECT_EQ(ParseReply(reply.substr(0, cut), r), 0u);
  }
  Reply r;
  ASSERT_EQ(ParseReply(reply, r), reply.size());
  EXPECT_EQ(r.code, 452);
  EXPECT_EQ(r.enhanced, "4.2.2");
  EXPECT_EQ(r.Full(),
            "452 4.2.2 The email account that you tried to reach is over quota. Please direct "
            "the recipient to https://support.example/x");
}

TEST(Reply, ClassesAndFull) {
  struct Case {
    const char* label;
    Reply reply;
    bool positive, transient, permanent;
    std::string full;
  };
  const Case cases[] = {
      {"250", {250, "2.0.0", "ok"}, true, false, false, "250 2.0.0 ok"},
      {"354", {354, "", "go ahead"}, true, false, false, "354 go ahead"},
      {"421", {421, "4.7.0", "later"}, false, true, false, "421 4.7.0 later"},
      {"550", {550, "", ""}, false, false, true, "550"},
      {"no reply", {}, false, false, false, "0"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    EXPECT_EQ(c.reply.Positive(), c.positive);
    EXPECT_EQ(c.reply.Transient(), c.transient);
    EXPECT_EQ(c.reply.Permanent(), c.permanent);
    EXPECT_EQ(c.reply.Full(), c.full);
  }
}

TEST(TransactionResult, OutcomeFor) {
  TransactionResult t;
  t.mail_reply = {250, "2.1.0", "ok"};
  t.rcpt_replies = {{250, "2.1.5", "ok"}, {550, "5.1.1", "unknown"}, {}};
  t.data_reply = {250, "2.0.0", "queued"};
  EXPECT_EQ(t.OutcomeFor(0).code, 250);
  EXPECT_EQ(t.OutcomeFor(0).text, "queued");
  EXPECT_EQ(t.OutcomeFor(1).code, 550);
  EXPECT_EQ(t.OutcomeFor(2).code, 0) << "no RCPT answer: connection-level";
  t.mail_reply = {451, "4.3.0", "later"};
  EXPECT_EQ(t.OutcomeFor(0).code, 451) << "MAIL's refusal applies to everyone";
}

}  // namespace
}  // namespace outpost::delivery
