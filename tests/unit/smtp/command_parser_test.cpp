#include "mta/smtp/command_parser.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mta/smtp/line_reader.hpp"
#include "mta/smtp/reply.hpp"

namespace outpost::smtp {
namespace {

struct ParseCase {
  std::string label;
  std::string line;
  int code;                  // 0 = must parse
  std::string enhanced;      // expected enhanced code on error
  Verb verb = Verb::kNoop;   // on success
  std::string address = "";  // on success (MAIL/RCPT)
};

TEST(CommandParserTest, Table) {
  const std::string long_local(65, 'a');
  const std::string ok_local(64, 'a');
  const std::string long_label(64, 'b');
  const std::vector<ParseCase> cases = {
      {"ehlo", "EHLO client.example", 0, "", Verb::kEhlo},
      {"ehlo lowercase", "ehlo client.example", 0, "", Verb::kEhlo},
      {"ehlo literal", "EHLO [127.0.0.1]", 0, "", Verb::kEhlo},
      {"ehlo missing name", "EHLO", 501, "5.5.4"},
      {"ehlo two words", "EHLO a b", 501, "5.5.4"},
      {"helo", "HELO x", 0, "", Verb::kHelo},
      {"mail", "MAIL FROM:<a@b.example>", 0, "", Verb::kMail, "a@b.example"},
      {"mail lowercase", "mail from:<a@b.example>", 0, "", Verb::kMail, "a@b.example"},
      {"mail space after colon", "MAIL FROM: <a@b.example>", 0, "", Verb::kMail, "a@b.example"},
      {"mail null sender", "MAIL FROM:<>", 0, "", Verb::kMail, ""},
      {"mail no brackets", "MAIL FROM:a@b.example", 501, "5.5.4"},
      {"mail no colon", "MAIL FROM <a@b.example>", 501, "5.5.4"},
      {"mail unclosed", "MAIL FROM:<a@b.example", 501, "5.5.4"},
      {"mail no args", "MAIL", 501, "5.5.4"},
      {"mail source route", "MAIL FROM:<@a,@b:user@c.example>", 553, "5.1.7"},
      {"rcpt source route", "RCPT TO:<@a,@b:user@c.example>", 553, "5.1.3"},
      {"rcpt null", "RCPT TO:<>", 501, "5.1.3"},
      {"rcpt", "RCPT TO:<x@y.example>", 0, "", Verb::kRcpt, "x@y.example"},
      {"rcpt no domain", "RCPT TO:<postmaster>", 553, "5.1.3"},
      {"rcpt bad domain", "RCPT TO:<x@-bad.example>", 553, "5.1.3"},
      {"rcpt empty label", "RCPT TO:<x@a..example>", 553, "5.1.3"},
      {"rcpt label too long", "RCPT TO:<x@" + long_label + ".example>", 553, "5.1.3"},
      {"rcpt local too long", "RCPT TO:<" + long_local + "@x.example>", 553, "5.1.3"},
      {"rcpt local 64 ok", "RCPT TO:<" + ok_local + "@x.example>", 0, "", Verb::kRcpt,
       ok_local + "@x.example"},
      {"rcpt dot at start", "RCPT TO:<.a@x.example>", 553, "5.1.3"},
      {"rcpt double dot", "RCPT TO:<a..b@x.example>", 553, "5.1.3"},
      {"rcpt percent hack is literal", "RCPT TO:<user%other@x.example>", 0, "", Verb::kRcpt,
       "user%other@x.example"},
      {"rcpt quoted local", "RCPT TO:<\"a b>c\"@x.example>", 0, "", Verb::kRcpt,
       "\"a b>c\"@x.example"},
      {"rcpt quoted unterminated", "RCPT TO:<\"ab@x.example>", 553, "5.1.3"},
      {"rcpt ip literal", "RCPT TO:<a@[192.0.2.1]>", 0, "", Verb::kRcpt, "a@[192.0.2.1]"},
      {"rcpt ipv6 literal", "RCPT TO:<a@[IPv6:::1]>", 0, "", Verb::kRcpt, "a@[IPv6:::1]"},
      {"rcpt bad literal", "RCPT TO:<a@[999.0.2.1]>", 553, "5.1.3"},
      {"rcpt general literal", "RCPT TO:<a@[tag:xyz]>", 553, "5.1.3"},
      {"rcpt two ats", "RCPT TO:<a@b@c.example>", 553, "5.1.3"},
      {"rcpt utf8", "RCPT TO:<j\xc3\xb6@x.example>", 553, "5.1.3"},
      {"rcpt param", "RCPT TO:<a@x.example> NOTIFY=NEVER", 555, "5.5.4"},
      {"rcpt garbage after >", "RCPT TO:<a@x.example>junk", 501, "5.5.4"},
      {"mail size", "MAIL FROM:<a@x.example> SIZE=1000", 0, "", Verb::kMail, "a@x.example"},
      {"mail body 8bit", "MAIL FROM:<a@x.example> BODY=8BITMIME", 0, "", Verb::kMail,
       "a@x.example"},
      {"mail body lowercase", "MAIL FROM:<a@x.example> body=7bit", 0, "", Verb::kMail,
       "a@x.example"},
      {"mail body bad", "MAIL FROM:<a@x.example> BODY=BINARYMIME", 501, "5.5.4"},
      {"mail size bad", "MAIL FROM:<a@x.example> SIZE=12x", 501, "5.5.4"},
      {"mail size twice", "MAIL FROM:<a@x.example> SIZE=1 SIZE=2", 501, "5.5.4"},
      {"mail unknown param", "MAIL FROM:<a@x.example> FOO=BAR", 555, "5.5.4"},
      {"mail smtputf8 unsupported", "MAIL FROM:<a@x.example> SMTPUTF8", 555, "5.5.4"},
      {"mail auth param", "MAIL FROM:<a@x.example> AUTH=<>", 0, "", Verb::kMail, "a@x.example"},
      {"mail envid", "MAIL FROM:<a@x.example> ENVID=abc+2Bdef", 0, "", Verb::kMail, "a@x.example"},
      {"mail envid bad xtext", "MAIL FROM:<a@x.example> ENVID=a+0D", 501, "5.5.4"},
      {"mail xverp", "MAIL FROM:<a@x.example> XVERP", 0, "", Verb::kMail, "a@x.example"},
      {"mail xverp delimiters", "MAIL FROM:<a@x.example> xverp=-=", 0, "", Verb::kMail,
       "a@x.example"},
      {"mail xverp bad delimiters", "MAIL FROM:<a@x.example> XVERP=%%", 501, "5.5.4"},
      {"mail xverp twice", "MAIL FROM:<a@x.example> XVERP XVERP", 501, "5.5.4"},
      {"data", "DATA", 0, "", Verb::kData},
      {"data with arg", "DATA x", 501, "5.5.4"},
      {"quit", "quit", 0, "", Verb::kQuit},
      {"rset", "RSET", 0, "", Verb::kRset},
      {"noop arg", "NOOP hello", 0, "", Verb::kNoop},
      {"help", "HELP", 0, "", Verb::kHelp},
      {"vrfy", "VRFY bob", 0, "", Verb::kVrfy},
      {"starttls", "STARTTLS", 0, "", Verb::kStartTls},
      {"starttls arg", "STARTTLS now", 501, "5.5.4"},
      {"auth", "AUTH PLAIN", 0, "", Verb::kAuth},
      {"auth no mech", "AUTH", 501, "5.5.4"},
      {"unknown verb", "FOO bar", 500, "5.5.1"},
      {"empty line", "", 500, "5.5.1"},
      {"expn unsupported", "EXPN list", 502, "5.5.1"},
      {"bdat unsupported", "BDAT 100 LAST", 502, "5.5.1"},
      {"nul byte", std::string("MAIL FROM:<a@x.example>\0", 24), 501, "5.5.2"},
      {"bare cr", "MAIL FROM:<a\r@x.example>", 501, "5.5.2"},
      {"bare lf", "RCPT TO:<a@x.example>\nRCPT TO:<b@y.example>", 501, "5.5.2"},
      {"line too long", "NOOP " + std::string(506, 'x'), 500, "5.5.2"},
      {"line 510 ok", "NOOP " + std::string(505, 'x'), 0, "", Verb::kNoop},
      {"path too long",
       "RCPT TO:<" + ok_local + "@" + std::string(60, 'a') + "." + std::string(60, 'b') + "." +
           std::string(60, 'c') + "." + std::string(60, 'd') + ".example>",
       553, "5.1.3"},
  };
  for (const ParseCase& c : cases) {
    SCOPED_TRACE(c.label);
    const ParseResult r = ParseCommand(c.line);
    if (c.code == 0) {
      ASSERT_TRUE(r.command.has_value()) << r.error.code << " " << r.error.text;
      EXPECT_EQ(r.command->verb, c.verb);
      if (c.verb == Verb::kMail || c.verb == Verb::kRcpt) {
        EXPECT_EQ(r.command->address, c.address);
      }
    } else {
      ASSERT_FALSE(r.command.has_value());
      EXPECT_EQ(r.error.code, c.code) << r.error.text;
      EXPECT_EQ(r.error.enhanced, c.enhanced);
    }
  }
}

TEST(CommandParserTest, MailParameters) {
  const ParseResult r =
      ParseCommand("MAIL FROM:<a@x.example> SIZE=4096 BODY=8BITMIME ENVID=job+2B1");
  ASSERT_TRUE(r.command.has_value());
  EXPECT_EQ(r.command->size, 4096u);
  EXPECT_EQ(r.command->body, BodyType::k8BitMime);
  EXPECT_EQ(r.command->env_id, "job+1");
  const ParseResult huge = ParseCommand("MAIL FROM:<a@x.example> SIZE=99999999999999999999");
  ASSERT_TRUE(huge.command.has_value());
  EXPECT_EQ(huge.command->size, UINT64_MAX);
}

TEST(CommandParserTest, XverpGivesTheDelimiters) {
  EXPECT_EQ(ParseCommand("MAIL FROM:<a@x.example>").command->verp_delimiters, "");
  EXPECT_EQ(ParseCommand("MAIL FROM:<a@x.example> XVERP").command->verp_delimiters, "+=");
  EXPECT_EQ(ParseCommand("MAIL FROM:<a@x.example> XVERP=-=").command->verp_delimiters, "-=");
}

TEST(CommandParserTest, LiteralDomainFlag) {
  EXPECT_TRUE(ParseCommand("RCPT TO:<a@[192.0.2.1]>").command->domain_is_literal);
  EXPECT_FALSE(ParseCommand("RCPT TO:<a@x.example>").command->domain_is_literal);
}

TEST(CommandParserTest, HeloArgumentKept) {
  EXPECT_EQ(ParseCommand("EHLO  mx.example ").command->argument, "mx.example");
  EXPECT_EQ(ParseCommand("AUTH PLAIN AGEAYg==").command->argument, "PLAIN AGEAYg==");
}

TEST(ReplyTest, Formats) {
  std::string out;
  AppendReply(out, 250, "2.0.0", "OK");
  AppendReply(out, 220, "", "host ESMTP");
  AppendReply(out, 501, "5.5.4", "bad\r\ninjected");
  EXPECT_EQ(out, "250 2.0.0 OK\r\n220 host ESMTP\r\n501 5.5.4 bad??injected\r\n");
  out.clear();
  AppendMultilineReply(out, 250, {"host", "PIPELINING", "SIZE 10"});
  EXPECT_EQ(out, "250-host\r\n250-PIPELINING\r\n250 SIZE 10\r\n");
}

struct LineCase {
  std::string label;
  std::vector<std::string> feeds;   // appended to a buffer one by one
  std::vector<std::string> expect;  // lines; "<TOO LONG>" for kTooLong
};

TEST(LineReaderTest, Table) {
  const std::vector<LineCase> cases = {
      {"one line", {"NOOP\r\n"}, {"NOOP"}},
      {"two lines one feed", {"A\r\nB\r\n"}, {"A", "B"}},
      {"split crlf", {"NOOP\r", "\n"}, {"NOOP"}},
      {"bare lf stays in line", {"A\nB\r\n"}, {"A\nB"}},
      {"bare cr stays in line", {"A\rB\r\n"}, {"A\rB"}},
      {"incomplete", {"NOOP"}, {}},
      {"exactly 512", {std::string(510, 'x') + "\r\n"}, {std::string(510, 'x')}},
      {"513 too long", {std::string(511, 'x') + "\r\nNOOP\r\n"}, {"<TOO LONG>", "NOOP"}},
      {"too long across feeds",
       {std::string(600, 'x'), std::string(600, 'y') + "\r", "\nQUIT\r\n"},
       {"<TOO LONG>", "QUIT"}},
  };
  for (const LineCase& c : cases) {
    SCOPED_TRACE(c.label);
    LineReader reader;
    std::string buffer;
    std::vector<std::string> got;
    for (const std::string& feed : c.feeds) {
      buffer += feed;
      while (true) {
        std::string_view line;
        std::size_t consumed = 0;
        const auto status = reader.Next(buffer, line, consumed);
        if (status == LineReader::Status::kLine) got.emplace_back(line);
        if (status == LineReader::Status::kTooLong) got.emplace_back("<TOO LONG>");
        buffer.erase(0, consumed);
        if (status == LineReader::Status::kNeedMore) break;
      }
      EXPECT_LE(buffer.size(), LineReader::kMaxCommandLine);
    }
    EXPECT_EQ(got, c.expect);
  }
}

// log-commands: commands as sent, secrets never.
TEST(CommandForLogTest, ShowsCommandsHidesSecrets) {
  EXPECT_EQ(CommandForLog("MAIL FROM:<a@example.com> SIZE=10"),
            "MAIL FROM:<a@example.com> SIZE=10");
  EXPECT_EQ(CommandForLog("ehlo client.example"), "ehlo client.example");
  EXPECT_EQ(CommandForLog("AUTH PLAIN AGFsaWNlAHMzY3JldA=="), "AUTH PLAIN (credentials not shown)");
  EXPECT_EQ(CommandForLog("AUTH LOGIN"), "AUTH LOGIN");
  EXPECT_EQ(CommandForLog("YWxpY2U="), "(8 octets not shown)");  // a base64 AUTH LOGIN answer
  EXPECT_EQ(CommandForLog(""), "(0 octets not shown)");
  EXPECT_EQ(CommandForLog("RCPT TO:<b@x>\x01"), "RCPT TO:<b@x>?");
  EXPECT_EQ(CommandForLog("NOOP " + std::string(300, 'x')).size(), 203u);
}

}  // namespace
}  // namespace outpost::smtp
