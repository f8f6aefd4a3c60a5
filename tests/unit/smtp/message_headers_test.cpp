#include "mta/smtp/message_headers.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace outpost::smtp {
namespace {

TraceInfo Trace() {
  TraceInfo t;
  t.helo = "client.example";
  t.client_literal = "[192.0.2.7]";
  t.host_name = "mta.example";
  t.protocol = "ESMTPS";
  t.queue_id = "00000000ABCDEF01";
  t.recipient = "bob@x.example";
  t.time = 1700000000;  // Tue, 14 Nov 2023 22:13:20 +0000
  return t;
}

TEST(MessageHeadersTest, ReceivedFormat) {
  const std::string r = FormatReceived(Trace());
  EXPECT_EQ(r.rfind("Received: from client.example ([192.0.2.7])\r\n\tby mta.example (Outpost) "
                    "with ESMTPS id 00000000ABCDEF01\r\n\tfor <bob@x.example>; ",
                    0),
            0u)
      << r;
  EXPECT_EQ(r.substr(r.size() - 2), "\r\n");
  TraceInfo hidden = Trace();
  hidden.client_literal.clear();
  hidden.recipient.clear();
  const std::string h = FormatReceived(hidden);
  EXPECT_EQ(h.find("192.0.2.7"), std::string::npos);
  EXPECT_EQ(h.find("for <"), std::string::npos);
  EXPECT_EQ(h.rfind("Received: from client.example\r\n\tby", 0), 0u) << h;
}

struct HeaderCase {
  std::string label;
  std::string input;
  std::string expect_after_received;  // message without the Received field
  std::optional<std::string> vmta;
  std::optional<std::string> job;
  bool message_id_added;
};

TEST(MessageHeadersTest, Table) {
  const std::string mid = "Message-ID: <00000000ABCDEF01@mta.example>\r\n";
  const std::vector<HeaderCase> cases = {
      {"adds message-id", "Subject: hi\r\n\r\nbody\r\n", "Subject: hi\r\n" + mid + "\r\nbody\r\n",
       std::nullopt, std::nullopt, true},
      {"keeps existing message-id", "Message-ID: <a@b>\r\nSubject: hi\r\n\r\nbody\r\n",
       "Message-ID: <a@b>\r\nSubject: hi\r\n\r\nbody\r\n", std::nullopt, std::nullopt, false},
      {"message-id case-insensitive", "message-id: <a@b>\r\n\r\nx\r\n",
       "message-id: <a@b>\r\n\r\nx\r\n", std::nullopt, std::nullopt, false},
      {"message-id only in body does not count", "Subject: a\r\n\r\nMessage-ID: <x@y>\r\n",
       "Subject: a\r\n" + mid + "\r\nMessage-ID: <x@y>\r\n", std::nullopt, std::nullopt, true},
      {"x headers extracted and removed",
       "X-Virtual-MTA: vmta1\r\nSubject: s\r\nX-Job: camp42\r\nMessage-ID: <m@x>\r\n\r\nb\r\n",
       "Subject: s\r\nMessage-ID: <m@x>\r\n\r\nb\r\n", "vmta1", "camp42", false},
      {"folded x-job", "X-Job: part1\r\n\tpart2\r\nMessage-ID: <m@x>\r\n\r\nb\r\n",
       "Message-ID: <m@x>\r\n\r\nb\r\n", std::nullopt, "part1 part2", false},
      {"case and space before colon", "x-virtual-mta : pool1\r\nMessage-ID: <m@x>\r\n\r\nb\r\n",
       "Message-ID: <m@x>\r\n\r\nb\r\n", "pool1", std::nullopt, false},
      {"all occurrences removed, first wins",
       "X-Job: a\r\nMessage-ID: <m@x>\r\nX-Job: b\r\n\r\nb\r\n", "Message-ID: <m@x>\r\n\r\nb\r\n",
       std::nullopt, "a", false},
      {"x-job in body untouched", "Message-ID: <m@x>\r\n\r\nX-Job: body\r\n",
       "Message-ID: <m@x>\r\n\r\nX-Job: body\r\n", std::nullopt, std::nullopt, false},
      {"x-job last header without body", "Message-ID: <m@x>\r\nX-Job: j\r\n",
       "Message-ID: <m@x>\r\n", std::nullopt, "j", false},
      {"empty message", "", mid, std::nullopt, std::nullopt, true},
      {"no headers", "\r\nbody\r\n", mid + "\r\nbody\r\n", std::nullopt, std::nullopt, true},
      {"x-jobs not x-job", "X-Jobs: keep\r\nMessage-ID: <m@x>\r\n\r\nb\r\n",
       "X-Jobs: keep\r\nMessage-ID: <m@x>\r\n\r\nb\r\n", std::nullopt, std::nullopt, false},
  };
  for (const HeaderCase& c : cases) {
    SCOPED_TRACE(c.label);
    std::string message = c.input;
    const HeaderResult r = ProcessHeaders(Trace(), message);
    const std::string received = FormatReceived(Trace());
    ASSERT_EQ(message.rfind(received, 0), 0u) << message;
    EXPECT_EQ(message.substr(received.size()), c.expect_after_received);
    EXPECT_EQ(r.x_virtual_mta, c.vmta);
    EXPECT_EQ(r.job, c.job);
    EXPECT_EQ(r.message_id_added, c.message_id_added);
  }
}

// The <source> header directives (HeaderOptions), each alone and together.
TEST(MessageHeadersTest, OptionsTable) {
  struct OptionCase {
    std::string label;
    HeaderOptions options;
    std::string input;
    std::string expect;  // the whole result; RECEIVED stands for FormatReceived(Trace())
  };
  auto opts = [](bool add_received, bool remove_received, bool add_message_id, bool add_date,
                 std::vector<std::string> remove) {
    return HeaderOptions{add_received, remove_received, add_message_id, add_date,
                         std::move(remove)};
  };
  const std::string in =
      "Received: from a by b; x\r\n\tfolded\r\nX-Mailer: m\r\nSubject: s\r\n"
      "Message-ID: <m@x>\r\n\r\nReceived: in body\r\n";
  const std::string date = "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n";
  const std::vector<OptionCase> cases = {
      {"no received added", opts(false, false, true, false, {}), in, in},
      {"old received removed", opts(true, true, true, false, {}), in,
       "RECEIVEDX-Mailer: m\r\nSubject: s\r\nMessage-ID: <m@x>\r\n\r\nReceived: in body\r\n"},
      {"remove-header any case", opts(false, false, true, false, {"x-mailer", "SUBJECT"}), in,
       "Received: from a by b; x\r\n\tfolded\r\nMessage-ID: <m@x>\r\n\r\nReceived: in "
       "body\r\n"},
      {"no message-id added", opts(false, false, false, false, {}), "Subject: s\r\n\r\nb\r\n",
       "Subject: s\r\n\r\nb\r\n"},
      {"date added when missing", opts(false, false, false, true, {}), "Subject: s\r\n\r\nb\r\n",
       "Subject: s\r\n" + date + "\r\nb\r\n"},
      {"date kept when present", opts(false, false, false, true, {}),
       "DATE: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\nb\r\n",
       "DATE: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\nb\r\n"},
  };
  for (const OptionCase& c : cases) {
    SCOPED_TRACE(c.label);
    std::string message = c.input;
    ProcessHeaders(Trace(), message, c.options);
    std::string expect = c.expect;
    if (expect.rfind("RECEIVED", 0) == 0) expect = FormatReceived(Trace()) + expect.substr(8);
    EXPECT_EQ(message, expect);
  }
}

// jobid-header, retain-x-job, retain-x-virtual-mta, process-x-envid.
TEST(MessageHeadersTest, XHeaderOptionsTable) {
  struct XCase {
    std::string label;
    std::string job_header;
    bool retain_job, retain_vmta, envid;
    std::string expect;  // the header section after processing (no Received:, no Message-ID:)
    std::optional<std::string> job, vmta, x_envid;
  };
  const std::string in =
      "X-Virtual-MTA: v1\r\nX-Job: j1\r\nX-Mailer-RecptId: r 7\r\nX-EnvID: env-9\r\n"
      "Message-ID: <m@x>\r\n\r\nb\r\n";
  const std::vector<XCase> cases = {
      {"defaults", "X-Job", false, false, false,
       "X-Mailer-RecptId: r 7\r\nX-EnvID: env-9\r\nMessage-ID: <m@x>\r\n", "j1", "v1",
       std::nullopt},
      {"retain both", "X-Job", true, true, false, in.substr(0, in.size() - 5), "j1", "v1",
       std::nullopt},
      {"job from another field, kept", "x-mailer-recptid", false, false, false,
       "X-Mailer-RecptId: r 7\r\nX-EnvID: env-9\r\nMessage-ID: <m@x>\r\n", "r 7", "v1",
       std::nullopt},
      {"job from message-id, kept", "Message-ID", false, false, false,
       "X-Mailer-RecptId: r 7\r\nX-EnvID: env-9\r\nMessage-ID: <m@x>\r\n", "<m@x>", "v1",
       std::nullopt},
      {"x-envid read and removed", "X-Job", false, false, true,
       "X-Mailer-RecptId: r 7\r\nMessage-ID: <m@x>\r\n", "j1", "v1", "env-9"},
  };
  for (const XCase& c : cases) {
    SCOPED_TRACE(c.label);
    HeaderOptions options;
    options.add_received = false;
    options.job_header = c.job_header;
    options.retain_x_job = c.retain_job;
    options.retain_x_virtual_mta = c.retain_vmta;
    options.process_x_envid = c.envid;
    std::string message = in;
    const HeaderResult r = ProcessHeaders(Trace(), message, options);
    EXPECT_EQ(message, c.expect + "\r\nb\r\n");
    EXPECT_EQ(r.job, c.job);
    EXPECT_EQ(r.x_virtual_mta, c.vmta);
    EXPECT_EQ(r.x_envid, c.x_envid);
  }
}

}  // namespace
}  // namespace outpost::smtp
