#include "mta/smtp/session.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/base64.hpp"

namespace outpost::smtp {
namespace {

config::SourcePolicy AddressSource(const char* cidr) {
  config::SourcePolicy s;
  s.cidr = Cidr::Parse(cidr);
  return s;
}

// Base config: 127.0.0.1 may relay; 192.0.2.0/24 may not; {auth} may relay.
std::shared_ptr<config::Config> BaseConfig() {
  auto c = std::make_shared<config::Config>();
  c->host_name = "mta.example";
  c->smtp_in_max_errors = 10;
  c->max_rcpt_per_message = 100;
  c->max_message_size = 1 << 20;
  config::SourcePolicy all = AddressSource("0/0");
  all.always_allow_relaying = false;
  config::SourcePolicy local = AddressSource("127.0.0.1");
  local.always_allow_relaying = true;
  local.process_x_virtual_mta = true;
  local.process_x_job = true;
  config::SourcePolicy auth;
  auth.name = "{auth}";
  auth.always_allow_relaying = true;
  c->sources = {all, local, auth};
  c->smtp_users.push_back(config::SmtpUser{"alice", "s3cret", "{auth}"});
  c->virtual_mtas.push_back(config::VirtualMta{"vmta1", {}});
  return c;
}

std::string Plain(const std::string& user, const std::string& pass) {
  return EncodeBase64(std::string("\0", 1) + user + std::string("\0", 1) + pass);
}

// A step: an input and what must come back. Inputs:
//   "<GREET>", "<TLS>", "<TIMEOUT>", "<COMMIT_OK>", "<COMMIT_FAIL>", "<DATA>bytes" (fed to the data
//   reader, then OnDataEnd), anything else is a command line.
struct Step {
  std::string input;
  std::string reply_prefix;  // `out` must start with this
  Action action = Action::kContinue;
  std::string reply_contains = "";
};

struct Scenario {
  std::string label;
  std::function<void(config::Config&)> configure;
  std::string client_ip = "127.0.0.1";
  bool tls_available = false;
  std::vector<Step> steps;
  bool healthy = true;
};

class Runner {
 public:
  Runner(const Scenario& s) : config_(BaseConfig()) {
    if (s.configure) s.configure(*config_);
    SessionOptions o;
    o.config = config_;
    o.client_ip = *IpAddress::Parse(s.client_ip);
    o.peer = "[" + s.client_ip + "]:1";
    o.tls_available = s.tls_available;
    const bool healthy = s.healthy;
    o.spool_healthy = [healthy] { return healthy; };
    o.new_queue_id = [] { return std::string("QID0000000000001"); };
    o.now = [] { return std::int64_t{1700000000}; };
    o.counters = &counters;
    session = std::make_unique<Session>(std::move(o));
  }

  Action Run(const std::string& input, std::string& out) {
    if (input == "<GREET>") return session->Greet(out);
    if (input == "<TLS>") {
      session->OnTlsEstablished("TLSv1.3 test");
      return Action::kContinue;
    }
    if (input == "<TIMEOUT>") return session->OnTimeout(out);
    if (input == "<COMMIT_OK>" || input == "<COMMIT_FAIL>") {
      last_message = session->TakeMessage();
      return session->OnCommitResult(
          input == "<COMMIT_OK>" ? spool::CommitStatus::kOk : spool::CommitStatus::kDiskFull, out);
    }
    if (input.rfind("<DATA>", 0) == 0) {
      const std::string bytes = input.substr(6);
      const std::size_t used = session->data_reader().Feed(bytes);
      EXPECT_EQ(used, bytes.size());
      EXPECT_TRUE(session->data_reader().done());
      return session->OnDataEnd(out);
    }
    return session->OnLine(input, out);
  }

  std::shared_ptr<config::Config> config_;
  SessionCounters counters;
  std::unique_ptr<Session> session;
  spool::SpoolMessage last_message;
};

const char* kMsg = "<DATA>Subject: t\r\n\r\nhello\r\n.\r\n";

TEST(SessionTest, Scenarios) {
  const std::string bad_pw = "AUTH PLAIN " + Plain("alice", "wrong");
  const std::vector<Scenario> scenarios = {
      {"happy path",
       nullptr,
       "127.0.0.1",
       false,
       {{"<GREET>", "220 mta.example ESMTP"},
        {"EHLO client.example", "250-mta.example", Action::kContinue, "250-PIPELINING"},
        {"MAIL FROM:<a@x.example> SIZE=100", "250 2.1.0"},
        {"RCPT TO:<b@y.example>", "250 2.1.5"},
        {"DATA", "354 ", Action::kReadData},
        {kMsg, "", Action::kCommit},
        {"<COMMIT_OK>", "250 2.0.0 OK QID0000000000001"},
        {"QUIT", "221 2.0.0", Action::kClose}}},
      {"order errors",
       nullptr,
       "127.0.0.1",
       false,
       {{"MAIL FROM:<a@x.example>", "503 5.5.1"},
        {"EHLO c", "250-"},
        {"RCPT TO:<b@y.example>", "503 5.5.1"},
        {"DATA", "503 5.5.1"},
        {"MAIL FROM:<a@x.example>", "250 "},
        {"MAIL FROM:<a@x.example>", "503 5.5.1"},
        {"DATA", "554 5.5.1"},
        {"RSET", "250 2.0.0"},
        {"RCPT TO:<b@y.example>", "503 5.5.1"}}},
      {"relay denied",
       nullptr,
       "192.0.2.9",
       false,
       {{"EHLO c", "250-"},
        {"MAIL FROM:<a@x.example>", "250 "},
        {"RCPT TO:<b@y.example>", "550 5.7.1 Relaying denied"},
        {"DATA", "554 5.5.1"}}},
      {"relay-domain accepted from a client that may not relay, only for that domain",
       [](config::Config& c) { c.relay_domains = {"bounce.example"}; },
       "192.0.2.9",
       false,
       {{"EHLO c", "250-"},
        {"MAIL FROM:<>", "250 "},
        {"RCPT TO:<b@y.example>", "550 5.7.1 Relaying denied"},
        {"RCPT TO:<b@sub.bounce.example>", "550 5.7.1 Relaying denied"},
        {"RCPT TO:<bounces@Bounce.Example>", "250 2.1.5"},
        {"DATA", "354 ", Action::kReadData}}},
      {"ip literal recipient refused",
       nullptr,
       "127.0.0.1",
       false,
       {{"EHLO c", "250-"},
        {"MAIL FROM:<a@x.example>", "250 "},
        {"RCPT TO:<b@[192.0.2.1]>", "550 5.7.1"}}},
      {"smtp-service no",
       [](config::Config& c) { c.sources[1].smtp_service = false; },
       "127.0.0.1",
       false,
       {{"<GREET>", "554 5.7.1", Action::kClose}}},
      {"require auth",
       [](config::Config& c) { c.sources[1].require_auth = true; },
       "127.0.0.1",
       false,
       {{"EHLO c", "250-"}, {"MAIL FROM:<a@x.example>", "530 5.7.0"}}},
      {"auth before tls",
       nullptr,
       "127.0.0.1",
       true,
       {{"EHLO c", "250-", Action::kContinue, "250 STARTTLS"},
        {"AUTH PLAIN " + Plain("alice", "s3cret"), "538 5.7.11"}}},
      {"starttls then auth plain enables relaying",
       nullptr,
       "192.0.2.9",
       true,
       {{"EHLO c", "250-", Action::kContinue, "STARTTLS"},
        {"MAIL FROM:<a@x.example>", "250 "},
        {"STARTTLS", "220 2.0.0", Action::kStartTls},
        {"<TLS>", ""},
        {"MAIL FROM:<a@x.example>", "503 5.5.1"},  // state was reset by TLS
        {"EHLO c", "250-", Action::kContinue, "AUTH PLAIN LOGIN"},
        {"STARTTLS", "503 5.5.1"},
        {"AUTH PLAIN " + Plain("alice", "s3cret"), "235 2.7.0"},
        {"MAIL FROM:<a@x.example>", "250 "},
        {"RCPT TO:<b@y.example>", "250 2.1.5"}}},
      {"auth login",
       nullptr,
       "192.0.2.9",
       true,
       {{"<TLS>", ""},
        {"EHLO c", "250-"},
        {"AUTH LOGIN", "334 VXNlcm5hbWU6"},
        {EncodeBase64("alice"), "334 UGFzc3dvcmQ6"},
        {EncodeBase64("s3cret"), "235 2.7.0"},
        {"AUTH LOGIN", "503 5.5.1"}}},
      {"auth plain continuation and cancel",
       nullptr,
       "192.0.2.9",
       true,
       {{"<TLS>", ""},
        {"EHLO c", "250-"},
        {"AUTH PLAIN", "334 "},
        {"*", "501 5.0.0"},
        {"AUTH PLAIN", "334 "},
        {"!!notbase64", "501 5.5.2"},
        {"AUTH CRAM-MD5", "504 5.5.4"}}},
      {"auth failures close",
       nullptr,
       "192.0.2.9",
       true,
       {{"<TLS>", ""},
        {"EHLO c", "250-"},
        {bad_pw, "535 5.7.8"},
        {"AUTH PLAIN " + Plain("nobody", "s3cret"), "535 5.7.8"},
        {bad_pw, "535 5.7.8", Action::kClose, "421 4.7.0"}}},
      {"too many errors",
       [](config::Config& c) { c.smtp_in_max_errors = 2; },
       "127.0.0.1",
       false,
       {{"FOO", "500 5.5.1"},
        {"BAR", "500 5.5.1"},
        {"BAZ", "500 5.5.1", Action::kClose, "421 4.7.0"}}},
      {"max recipients",
       [](config::Config& c) { c.max_rcpt_per_message = 2; },
       "127.0.0.1",
       false,
       {{"EHLO c", "250-"},
        {"MAIL FROM:<>", "250 "},
        {"RCPT TO:<a@y.example>", "250 "},
        {"RCPT TO:<b@y.example>", "250 "},
        {"RCPT TO:<c@y.example>", "452 4.5.3"}}},
      {"spool unhealthy",
       nullptr,
       "127.0.0.1",
       false,
       {{"EHLO c", "250-"}, {"MAIL FROM:<>", "250 "}, {"RCPT TO:<a@y.example>", "452 4.3.1"}},
       false},
      {"allow-starttls no",
       [](config::Config& c) { c.sources[1].allow_starttls = false; },
       "127.0.0.1",
       true,
       {{"EHLO c", "250-", Action::kContinue, "250 ENHANCEDSTATUSCODES\r\n"},
        {"STARTTLS", "502 5.5.1"}}},
      {"allow-unencrypted-plain-auth",
       [](config::Config& c) { c.sources[0].allow_unencrypted_plain_auth = true; },
       "192.0.2.9",
       true,
       {{"EHLO c", "250-", Action::kContinue, "250 AUTH PLAIN LOGIN"},
        {"AUTH PLAIN " + Plain("alice", "s3cret"), "235 2.7.0"}}},
      {"require-starttls-before-auth wins",
       [](config::Config& c) {
         c.sources[0].allow_unencrypted_plain_auth = true;
         c.sources[0].require_starttls_before_auth = true;
       },
       "192.0.2.9",
       true,
       {{"EHLO c", "250-", Action::kContinue, "250 STARTTLS"},
        {"AUTH PLAIN " + Plain("alice", "s3cret"), "538 5.7.11"}}},
      {"starttls unavailable",
       nullptr,
       "127.0.0.1",
       false,
       {{"EHLO c", "250-"}, {"STARTTLS", "502 5.5.1"}}},
      {"size too big",
       [](config::Config& c) { c.max_message_size = 1000; },
       "127.0.0.1",
       false,
       {{"EHLO c", "250-", Action::kContinue, "250-SIZE 1000"},
        {"MAIL FROM:<a@x.example> SIZE=1001", "552 5.3.4"}}},
      {"bare lf rejected, session continues",
       nullptr,
       "127.0.0.1",
       false,
       {{"EHLO c", "250-"},
        {"MAIL FROM:<a@x.example>", "250 "},
        {"RCPT TO:<b@y.example>", "250 "},
        {"DATA", "354", Action::kReadData},
        {"<DATA>a\nb\r\n.\r\n", "550 5.6.11"},
        {"RCPT TO:<b@y.example>", "503 5.5.1"},
        {"MAIL FROM:<a@x.example>", "250 "}}},
      {"oversize data rejected",
       [](config::Config& c) { c.max_message_size = 10; },
       "127.0.0.1",
       false,
       {{"EHLO c", "250-"},
        {"MAIL FROM:<a@x.example>", "250 "},
        {"RCPT TO:<b@y.example>", "250 "},
        {"DATA", "354", Action::kReadData},
        {"<DATA>0123456789abcdef\r\n.\r\n", "552 5.3.4"}}},
      {"commit failure",
       nullptr,
       "127.0.0.1",
       false,
       {{"EHLO c", "250-"},
        {"MAIL FROM:<a@x.example>", "250 "},
        {"RCPT TO:<b@y.example>", "250 "},
        {"DATA", "354", Action::kReadData},
        {kMsg, "", Action::kCommit},
        {"<COMMIT_FAIL>", "452 4.3.1"}}},
      {"unknown x-virtual-mta",
       nullptr,
       "127.0.0.1",
       false,
       {{"EHLO c", "250-"},
        {"MAIL FROM:<a@x.example>", "250 "},
        {"RCPT TO:<b@y.example>", "250 "},
        {"DATA", "354", Action::kReadData},
        {"<DATA>X-Virtual-MTA: nope\r\n\r\nx\r\n.\r\n", "550 5.7.1"}}},
      {"helo, vrfy, help, noop, timeout",
       nullptr,
       "127.0.0.1",
       false,
       {{"HELO c", "250 mta.example"},
        {"VRFY bob", "252 2.5.0"},
        {"HELP", "214 2.0.0"},
        {"NOOP", "250 2.0.0"},
        {"<TIMEOUT>", "421 4.4.2", Action::kClose}}},
  };
  for (const Scenario& s : scenarios) {
    SCOPED_TRACE(s.label);
    Runner r(s);
    for (std::size_t i = 0; i < s.steps.size(); ++i) {
      const Step& step = s.steps[i];
      SCOPED_TRACE("step " + std::to_string(i) + ": " + step.input);
      std::string out;
      const Action action = r.Run(step.input, out);
      EXPECT_EQ(out.rfind(step.reply_prefix, 0), 0u) << out;
      if (!step.reply_contains.empty()) {
        EXPECT_NE(out.find(step.reply_contains), std::string::npos) << out;
      }
      EXPECT_EQ(static_cast<int>(action), static_cast<int>(step.action)) << out;
    }
  }
}

Action Line(Session& s, const std::string& line) {
  std::string out;
  return s.OnLine(line, out);
}

std::unique_ptr<Session> MakeSession(std::shared_ptr<config::Config> c, const char* ip) {
  SessionOptions o;
  o.config = std::move(c);
  o.client_ip = *IpAddress::Parse(ip);
  o.new_queue_id = [] { return std::string("QID0000000000002"); };
  o.now = [] { return std::int64_t{1700000000}; };
  return std::make_unique<Session>(std::move(o));
}

TEST(SessionTest, EnvelopeAndHeaders) {
  auto session = MakeSession(BaseConfig(), "127.0.0.1");
  Line(*session, "EHLO client.example");
  Line(*session, "MAIL FROM:<a@x.example> BODY=8BITMIME ENVID=e1");
  Line(*session, "RCPT TO:<b@y.example>");
  Line(*session, "RCPT TO:<c@y.example>");
  ASSERT_EQ(Line(*session, "DATA"), Action::kReadData);
  session->data_reader().Feed(
      "X-Virtual-MTA: vmta1\r\nX-Job: job7\r\nSubject: s\r\n\r\nbody\r\n.\r\n");
  std::string out;
  ASSERT_EQ(session->OnDataEnd(out), Action::kCommit);
  const spool::SpoolMessage m = session->TakeMessage();
  EXPECT_EQ(m.envelope.id, "QID0000000000002");
  EXPECT_EQ(m.envelope.mail_from, "a@x.example");
  EXPECT_EQ(m.envelope.recipients, (std::vector<std::string>{"b@y.example", "c@y.example"}));
  EXPECT_EQ(m.envelope.vmta, "vmta1");
  EXPECT_EQ(m.envelope.job_id, "job7");
  EXPECT_EQ(m.envelope.env_id, "e1");
  EXPECT_EQ(m.envelope.source_ip, "127.0.0.1");
  EXPECT_EQ(m.envelope.source_helo, "client.example");
  EXPECT_TRUE(m.envelope.body_8bit);
  EXPECT_EQ(m.envelope.time_queued, 1700000000);
  EXPECT_EQ(m.data.find("X-Virtual-MTA"), std::string::npos);
  EXPECT_EQ(m.data.find("X-Job"), std::string::npos);
  EXPECT_EQ(m.data.rfind("Received: from client.example ([127.0.0.1])", 0), 0u) << m.data;
  EXPECT_NE(m.data.find("with ESMTP id QID0000000000002;"), std::string::npos) << m.data;
  EXPECT_NE(m.data.find("Message-ID: <QID0000000000002@mta.example>\r\n"), std::string::npos);
  EXPECT_EQ(session->committed_envelope().id, "QID0000000000002");
  EXPECT_EQ(session->committed_size(), m.data.size());
}

TEST(SessionTest, XHeadersIgnoredWhenSourceDisallows) {
  auto c = BaseConfig();
  c->sources[1].process_x_virtual_mta = false;
  c->sources[1].process_x_job = false;
  c->sources[1].default_virtual_mta = "vmta1";
  c->sources[1].hide_message_source = true;
  auto session = MakeSession(c, "127.0.0.1");
  Line(*session, "EHLO client.example");
  Line(*session, "MAIL FROM:<>");
  Line(*session, "RCPT TO:<b@y.example>");
  ASSERT_EQ(Line(*session, "DATA"), Action::kReadData);
  session->data_reader().Feed("X-Virtual-MTA: other\r\nX-Job: j\r\n\r\nbody\r\n.\r\n");
  std::string out;
  ASSERT_EQ(session->OnDataEnd(out), Action::kCommit);
  const spool::SpoolMessage m = session->TakeMessage();
  EXPECT_EQ(m.envelope.vmta, "vmta1");
  EXPECT_EQ(m.envelope.job_id, "");
  EXPECT_EQ(m.data.find("X-Virtual-MTA"), std::string::npos);  // removed anyway
  EXPECT_EQ(m.data.find("X-Job"), std::string::npos);
  EXPECT_EQ(m.data.find("127.0.0.1"), std::string::npos);  // hide-message-source
}

// <pattern-list>: the first matching line routes; recipients routed differently from the
// transaction's first one get 452 4.5.3; X-Virtual-MTA still wins; default-virtual-mta otherwise.
std::shared_ptr<config::Config> RoutedConfig() {
  using Subject = config::RoutePattern::Subject;
  auto c = BaseConfig();
  c->virtual_mtas.push_back(config::VirtualMta{"news", {}});
  c->virtual_mtas.push_back(config::VirtualMta{"google", {}});
  c->virtual_mtas.push_back(config::VirtualMta{"tx", {}});
  config::PatternList list{"routing", {}};
  list.patterns.push_back({Subject::kMailFrom, "", "@news\\.example$", false, "news", 1});
  list.patterns.push_back({Subject::kHeader, "x-campaign", "^TRANS", true, "tx", 2});
  list.patterns.push_back({Subject::kRcptTo, "", "@gmail\\.com", false, "google", 3});
  c->pattern_lists.push_back(list);
  c->sources[1].pattern_list = "routing";
  c->sources[1].default_virtual_mta = "vmta1";
  return c;
}

std::string RoutedVmta(const std::vector<std::string>& lines, const std::string& data,
                       std::string* last_reply = nullptr) {
  auto session = MakeSession(RoutedConfig(), "127.0.0.1");
  Line(*session, "EHLO client.example");
  for (const std::string& line : lines) {
    std::string out;
    session->OnLine(line, out);
    if (last_reply != nullptr) *last_reply = out;
  }
  EXPECT_EQ(Line(*session, "DATA"), Action::kReadData);
  session->data_reader().Feed(data + "\r\n.\r\n");
  std::string out;
  EXPECT_EQ(session->OnDataEnd(out), Action::kCommit) << out;
  return session->TakeMessage().envelope.vmta;
}

TEST(SessionTest, PatternListRoutes) {
  const std::string plain = "Subject: s\r\n\r\nbody";
  EXPECT_EQ(RoutedVmta({"MAIL FROM:<a@news.example>", "RCPT TO:<b@gmail.com>"}, plain), "news");
  EXPECT_EQ(RoutedVmta({"MAIL FROM:<a@shop.example>", "RCPT TO:<b@gmail.com>"},
                       "X-Campaign: transactional 7\r\n\r\nbody"),
            "tx");
  EXPECT_EQ(RoutedVmta({"MAIL FROM:<a@shop.example>", "RCPT TO:<b@gmail.com>"}, plain), "google");
  EXPECT_EQ(RoutedVmta({"MAIL FROM:<a@shop.example>", "RCPT TO:<b@yahoo.com>"}, plain), "vmta1");
  EXPECT_EQ(RoutedVmta({"MAIL FROM:<a@shop.example>", "RCPT TO:<b@gmail.com>"},
                       "X-Virtual-MTA: news\r\n\r\nbody"),
            "news");
  // A recipient routed otherwise waits for another transaction; one routed alike joins.
  std::string reply;
  EXPECT_EQ(
      RoutedVmta({"MAIL FROM:<a@shop.example>", "RCPT TO:<b@gmail.com>", "RCPT TO:<c@yahoo.com>"},
                 plain, &reply),
      "google");
  EXPECT_EQ(reply.rfind("452 4.5.3 ", 0), 0u) << reply;
  EXPECT_EQ(
      RoutedVmta({"MAIL FROM:<a@shop.example>", "RCPT TO:<b@yahoo.com>", "RCPT TO:<c@yahoo.com>"},
                 plain, &reply),
      "vmta1");
  EXPECT_EQ(reply.rfind("250 ", 0), 0u) << reply;
  // The sender decides before any recipient line: all recipients are alike.
  EXPECT_EQ(
      RoutedVmta({"MAIL FROM:<a@news.example>", "RCPT TO:<b@gmail.com>", "RCPT TO:<c@yahoo.com>"},
                 plain, &reply),
      "news");
  EXPECT_EQ(reply.rfind("250 ", 0), 0u) << reply;
}

// smtp-max-auth-failure-rate of the client's source replaces max-auth-failures-per-ip.
TEST(SessionTest, SourceAuthFailureRate) {
  auto c = BaseConfig();
  c->max_auth_failures_per_ip = 10;
  config::SourcePolicy limited = AddressSource("192.0.2.0/24");
  limited.smtp_max_auth_failure_rate = config::Rate{1, config::Seconds(3600)};
  c->sources.push_back(limited);
  AuthFailureTracker tracker;
  auto start = [&](const char* ip) {
    SessionOptions o;
    o.config = c;
    o.client_ip = *IpAddress::Parse(ip);
    o.tls_available = true;
    o.new_queue_id = [] { return std::string("QID0000000000003"); };
    o.now = [] { return std::int64_t{1700000000}; };
    o.auth_failures_by_ip = &tracker;
    auto session = std::make_unique<Session>(std::move(o));
    session->OnTlsEstablished("TLSv1.3 test");
    Line(*session, "EHLO c");
    return session;
  };
  auto first = start("192.0.2.9");
  std::string out;
  first->OnLine("AUTH PLAIN " + Plain("alice", "wrong"), out);
  EXPECT_EQ(out.rfind("535 5.7.8", 0), 0u) << out;
  auto second = start("192.0.2.9");
  out.clear();
  second->OnLine("AUTH PLAIN " + Plain("alice", "s3cret"), out);
  EXPECT_EQ(out.rfind("454 4.7.0", 0), 0u) << out;  // blocked for the hour after one failure
  // 127.0.0.1's sources have no rate: the global cap (10) applies.
  auto local = start("127.0.0.1");
  out.clear();
  local->OnLine("AUTH PLAIN " + Plain("alice", "wrong"), out);
  auto local2 = start("127.0.0.1");
  out.clear();
  local2->OnLine("AUTH PLAIN " + Plain("alice", "s3cret"), out);
  EXPECT_EQ(out.rfind("235 2.7.0", 0), 0u) << out;
}

// process-x-envid: X-EnvID gives the envelope id unless MAIL FROM had ENVID=.
TEST(SessionTest, EnvelopeIdFromHeader) {
  auto c = BaseConfig();
  c->sources[1].process_x_envid = true;
  for (const auto& [mail, want] : std::vector<std::pair<std::string, std::string>>{
           {"MAIL FROM:<a@x.example>", "hdr-1"}, {"MAIL FROM:<a@x.example> ENVID=p1", "p1"}}) {
    auto session = MakeSession(c, "127.0.0.1");
    Line(*session, "EHLO client.example");
    Line(*session, mail);
    Line(*session, "RCPT TO:<b@y.example>");
    ASSERT_EQ(Line(*session, "DATA"), Action::kReadData);
    session->data_reader().Feed("X-EnvID: hdr-1\r\nSubject: s\r\n\r\nbody\r\n.\r\n");
    std::string out;
    ASSERT_EQ(session->OnDataEnd(out), Action::kCommit);
    const spool::SpoolMessage m = session->TakeMessage();
    EXPECT_EQ(m.envelope.env_id, want);
    EXPECT_EQ(m.data.find("X-EnvID"), std::string::npos);
  }
}

// XVERP asks for VERP for one message, verp-default for every message of a source; EHLO offers it.
TEST(SessionTest, VerpFromXverpOrVerpDefault) {
  struct Case {
    bool verp_default;
    const char* mail;
    const char* want;
  };
  for (const Case& c : {Case{false, "MAIL FROM:<a@x.example>", ""},
                        Case{false, "MAIL FROM:<a@x.example> XVERP", "+="},
                        Case{false, "MAIL FROM:<a@x.example> XVERP=-=", "-="},
                        Case{true, "MAIL FROM:<a@x.example>", "+="},
                        Case{true, "MAIL FROM:<a@x.example> XVERP=-=", "-="}}) {
    auto config = BaseConfig();
    config->sources[1].verp_default = c.verp_default;
    auto session = MakeSession(config, "127.0.0.1");
    std::string out;
    session->OnLine("EHLO client.example", out);
    EXPECT_NE(out.find("250-XVERP\r\n"), std::string::npos) << out;
    Line(*session, c.mail);
    Line(*session, "RCPT TO:<b@y.example>");
    ASSERT_EQ(Line(*session, "DATA"), Action::kReadData);
    session->data_reader().Feed("Subject: s\r\n\r\nbody\r\n.\r\n");
    ASSERT_EQ(session->OnDataEnd(out), Action::kCommit);
    EXPECT_EQ(session->TakeMessage().envelope.verp_delimiters, c.want) << c.mail;
  }
}

TEST(SessionTest, CountersAndAdmission) {
  auto c = BaseConfig();
  SessionCounters counters;
  std::size_t asked = 0;
  SessionOptions o;
  o.config = c;
  o.client_ip = *IpAddress::Parse("192.0.2.1");
  o.new_queue_id = [] { return std::string("Q"); };
  o.now = [] { return std::int64_t{0}; };
  o.counters = &counters;
  o.admission = [&asked](std::size_t n) {
    asked = n;
    return false;
  };
  Session s(std::move(o));
  Line(s, "EHLO c");
  Line(s, "MAIL FROM:<>");
  Line(s, "RCPT TO:<a@b.example>");
  EXPECT_EQ(counters.relay_denied.load(), 1u);
  EXPECT_EQ(s.errors(), 1);

  auto local = MakeSession(c, "127.0.0.1");
  (void)local;
  SessionOptions o2;
  o2.config = c;
  o2.client_ip = *IpAddress::Parse("127.0.0.1");
  o2.new_queue_id = [] { return std::string("Q"); };
  o2.now = [] { return std::int64_t{0}; };
  o2.admission = [&asked](std::size_t n) {
    asked = n;
    return false;
  };
  Session s2(std::move(o2));
  Line(s2, "EHLO c");
  Line(s2, "MAIL FROM:<>");
  std::string out;
  s2.OnLine("RCPT TO:<a@b.example>", out);
  EXPECT_EQ(out.rfind("452 4.3.1", 0), 0u) << out;
  EXPECT_EQ(asked, 1u);
}

// A suppressed recipient gets 550 5.7.1 with the reason; the others are accepted, and the
// refusals do not count as session errors (a list with many suppressed addresses is not cut off).
TEST(SessionTest, RefusedRecipientsAreAnsweredWithTheReason) {
  auto c = BaseConfig();
  c->smtp_in_max_errors = 1;
  SessionOptions o;
  o.config = c;
  o.client_ip = *IpAddress::Parse("127.0.0.1");
  o.new_queue_id = [] { return std::string("Q"); };
  o.now = [] { return std::int64_t{0}; };
  o.refuse_recipient = [](const std::string& rcpt) {
    return rcpt == "gone@b.example" ? std::string("<gone@b.example> is suppressed") : std::string();
  };
  Session s(std::move(o));
  Line(s, "EHLO c");
  Line(s, "MAIL FROM:<>");
  for (int i = 0; i < 3; ++i) {
    std::string out;
    EXPECT_EQ(s.OnLine("RCPT TO:<gone@b.example>", out), Action::kContinue);
    EXPECT_EQ(out, "550 5.7.1 <gone@b.example> is suppressed\r\n");
  }
  std::string out;
  s.OnLine("RCPT TO:<kept@b.example>", out);
  EXPECT_EQ(out.rfind("250 2.1.5", 0), 0u) << out;
  EXPECT_EQ(s.errors(), 0);
}

TEST(SessionTest, Base64) {
  EXPECT_EQ(EncodeBase64("Username:"), "VXNlcm5hbWU6");
  EXPECT_EQ(DecodeBase64("VXNlcm5hbWU6"), "Username:");
  EXPECT_EQ(DecodeBase64("YQ=="), "a");
  EXPECT_EQ(DecodeBase64("YWI="), "ab");
  EXPECT_FALSE(DecodeBase64("YQ=").has_value());
  EXPECT_FALSE(DecodeBase64("Y=Q=").has_value());
  EXPECT_FALSE(DecodeBase64("YQ==YQ==").has_value());
}

}  // namespace
}  // namespace outpost::smtp
