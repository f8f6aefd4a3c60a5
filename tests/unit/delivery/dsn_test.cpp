// BuildDsn: the RFC 3464 structure (headers, three MIME parts, per-recipient fields), CRLF line
// ends, and that input fields cannot inject headers or parts.
#include "mta/delivery/dsn.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace outpost::delivery {
namespace {

std::vector<std::string> SplitCrlf(const std::string& s) {
  std::vector<std::string> lines;
  std::size_t pos = 0;
  while (pos < s.size()) {
    std::size_t e = s.find("\r\n", pos);
    if (e == std::string::npos) {
      lines.push_back(s.substr(pos));
      break;
    }
    lines.push_back(s.substr(pos, e - pos));
    pos = e + 2;
  }
  return lines;
}

// A minimal MIME reader for the test: top headers, boundary, and the parts (headers + body).
struct Part {
  std::string headers;
  std::string body;
};
struct Parsed {
  std::string headers;
  std::string boundary;
  std::vector<Part> parts;
  bool closed = false;
};

Parsed ParseMime(const std::string& msg) {
  Parsed p;
  std::size_t hdr_end = msg.find("\r\n\r\n");
  p.headers = msg.substr(0, hdr_end + 2);
  std::size_t b = p.headers.find("boundary=\"");
  if (b == std::string::npos) return p;
  b += 10;
  p.boundary = p.headers.substr(b, p.headers.find('"', b) - b);
  const std::string delim = "\r\n--" + p.boundary;
  std::size_t pos = msg.find(delim, hdr_end);
  while (pos != std::string::npos) {
    std::size_t after = pos + delim.size();
    if (msg.compare(after, 4, "--\r\n") == 0) {
      p.closed = after + 4 == msg.size();
      break;
    }
    std::size_t start = after + 2;  // CRLF after the delimiter
    std::size_t next = msg.find(delim, start);
    if (next == std::string::npos) break;
    std::string part = msg.substr(start, next - start);
    std::size_t sep = part.find("\r\n\r\n");
    p.parts.push_back(
        {part.substr(0, sep + 2), sep == std::string::npos ? "" : part.substr(sep + 4)});
    pos = next;
  }
  return p;
}

DsnInput SampleInput() {
  DsnInput in;
  in.reporting_mta = "mta1.example.com";
  in.queue_id = "Q123ABC";
  in.original_envelope_id = "ENV-42";
  in.original_sender = "news@example.com";
  in.arrival_time = 1763805600;  // 2025-11-22 10:00:00 UTC
  in.recipients = {
      {"nobody@outlook.com", "5.1.1", "smtp; 550 5.1.1 user unknown",
       "outlook-com.olc.protection.outlook.com", "failed"},
      {"carol@yahoo.com", "4.4.7", "", "", "failed"},
  };
  in.original_headers =
      "From: News <news@example.com>\r\nTo: nobody@outlook.com\r\nSubject: Spring sale\r\n";
  return in;
}

TEST(BuildDsn, Structure) {
  const std::string m = BuildDsn(SampleInput(), 1763805900);
  // Every line ends in CRLF: no bare LF or CR.
  for (std::size_t i = 0; i < m.size(); ++i) {
    if (m[i] == '\n') {
      ASSERT_TRUE(i > 0 && m[i - 1] == '\r') << "bare LF at " << i;
    }
    if (m[i] == '\r') {
      ASSERT_TRUE(i + 1 < m.size() && m[i + 1] == '\n') << "bare CR at " << i;
    }
  }
  for (const std::string& line : SplitCrlf(m)) EXPECT_LE(line.size(), 998u);

  Parsed p = ParseMime(m);
  const std::string required_headers[] = {
      "From: Mail Delivery System <MAILER-DAEMON@mta1.example.com>\r\n",
      "To: <news@example.com>\r\n",
      "Subject: Delivery Status Notification (Failure)\r\n",
      "Auto-Submitted: auto-replied\r\n",
      "MIME-Version: 1.0\r\n",
      "Content-Type: multipart/report; report-type=delivery-status;",
      "Date: Sat, 22 Nov 2025 10:05:00 +0000\r\n",
      "Message-ID: <",
  };
  for (const std::string& h : required_headers) {
    EXPECT_NE(p.headers.find(h), std::string::npos) << "missing header " << h;
  }
  ASSERT_FALSE(p.boundary.empty());
  EXPECT_TRUE(p.closed) << "closing delimiter must end the message";
  ASSERT_EQ(p.parts.size(), 3u);

  EXPECT_NE(p.parts[0].headers.find("Content-Type: text/plain"), std::string::npos);
  EXPECT_NE(p.parts[0].body.find("<nobody@outlook.com>: failed: smtp; 550 5.1.1 user unknown"),
            std::string::npos);

  EXPECT_EQ(p.parts[1].headers.find("Content-Type: message/delivery-status\r\n"), 0u);
  const std::string& ds = p.parts[1].body;
  // Per-message fields, then one block per recipient, blocks separated by blank lines.
  const std::string per_message =
      "Reporting-MTA: dns; mta1.example.com\r\n"
      "X-Outpost-Queue-ID: Q123ABC\r\n"
      "Original-Envelope-Id: ENV-42\r\n"
      "Arrival-Date: Sat, 22 Nov 2025 10:00:00 +0000\r\n"
      "\r\n";
  EXPECT_EQ(ds.substr(0, per_message.size()), per_message);
  const std::string rcpt1 =
      "\r\nFinal-Recipient: rfc822; nobody@outlook.com\r\n"
      "Action: failed\r\n"
      "Status: 5.1.1\r\n"
      "Remote-MTA: dns; outlook-com.olc.protection.outlook.com\r\n"
      "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"
      "Last-Attempt-Date: Sat, 22 Nov 2025 10:05:00 +0000\r\n";
  EXPECT_NE(ds.find(rcpt1), std::string::npos) << ds;
  const std::string rcpt2 =
      "\r\nFinal-Recipient: rfc822; carol@yahoo.com\r\n"
      "Action: failed\r\n"
      "Status: 4.4.7\r\n"
      "Last-Attempt-Date:";
  EXPECT_NE(ds.find(rcpt2), std::string::npos) << "no Remote-MTA/Diagnostic-Code when unknown";

  EXPECT_NE(p.parts[2].headers.find("Content-Type: text/rfc822-headers"), std::string::npos);
  EXPECT_EQ(p.parts[2].body, SampleInput().original_headers);
}

TEST(BuildDsn, Variants) {
  struct Case {
    const char* label;
    std::vector<std::string> actions;
    std::string subject;
  };
  const Case cases[] = {
      {"all failed", {"failed", "failed"}, "(Failure)"},
      {"one failed one delayed", {"delayed", "failed"}, "(Failure)"},
      {"delayed only", {"delayed"}, "(Delay)"},
      {"delivered", {"delivered", "relayed"}, "(Success)"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    DsnInput in = SampleInput();
    in.recipients.clear();
    for (const std::string& a : c.actions)
      in.recipients.push_back({"x@y.test", "4.0.0", "", "", a});
    std::string m = BuildDsn(in, 1763805900);
    EXPECT_NE(m.find("Subject: Delivery Status Notification " + c.subject + "\r\n"),
              std::string::npos);
  }
  DsnInput no_headers = SampleInput();
  no_headers.original_headers.clear();
  no_headers.original_envelope_id.clear();
  Parsed p = ParseMime(BuildDsn(no_headers, 1));
  EXPECT_EQ(p.parts.size(), 2u) << "no rfc822-headers part without headers";
  EXPECT_TRUE(p.closed);
  EXPECT_EQ(p.parts[1].body.find("Original-Envelope-Id"), std::string::npos);
}

// An expired recipient: the text part says who deferred it, with what reply, and after how long
// it expired; the delivery-status part carries Remote-MTA and Diagnostic-Code.
TEST(BuildDsn, ExpiredRecipientSaysWhy) {
  struct Case {
    const char* label;
    std::string diagnostic, remote_mta;
    std::string text_line;  // the recipient's line in the text part
    bool fields;            // Remote-MTA and Diagnostic-Code present
  };
  const Case cases[] = {
      {"deferred by a remote MTA", "smtp; 451 4.2.0 mailbox busy, try later", "mx.example.com",
       "<r@example.com>: failed: delivery was deferred by mx.example.com: 451 4.2.0 mailbox busy, "
       "try later; the message expired after 2d in the queue (bounce-after)",
       true},
      {"connection failure without a reply", "X-Outpost; connect to 192.0.2.1:25: refused",
       "mx.example.com",
       "<r@example.com>: failed: delivery was deferred by mx.example.com: connect to "
       "192.0.2.1:25: refused; the message expired after 2d in the queue (bounce-after)",
       true},
      {"nothing known (e.g. after a restart)", "", "",
       "<r@example.com>: failed: the message expired after 2d in the queue (bounce-after)", false},
  };
  for (const Case& c : cases) {
    DsnInput in = SampleInput();
    DsnRecipient r;
    r.address = "r@example.com";
    r.status = "5.4.7";
    r.diagnostic = c.diagnostic;
    r.remote_mta = c.remote_mta;
    r.expired_after = "2d";
    in.recipients = {r};
    Parsed p = ParseMime(BuildDsn(in, 1763805900));
    ASSERT_EQ(p.parts.size(), 3u) << c.label;
    EXPECT_NE(p.parts[0].body.find("\r\n" + c.text_line + "\r\n"), std::string::npos)
        << c.label << "\n"
        << p.parts[0].body;
    const std::string& ds = p.parts[1].body;
    EXPECT_NE(ds.find("Status: 5.4.7\r\n"), std::string::npos) << c.label;
    EXPECT_EQ(ds.find("Remote-MTA: dns; " + c.remote_mta + "\r\n") != std::string::npos, c.fields)
        << c.label;
    EXPECT_EQ(ds.find("Diagnostic-Code: " + c.diagnostic + "\r\n") != std::string::npos, c.fields)
        << c.label;
  }
}

// postmaster: the From: address and the text part's help line; none without it.
TEST(BuildDsn, PostmasterIsTheSenderAndTheContact) {
  DsnInput in = SampleInput();
  in.postmaster = "abuse-desk@example.com";
  const std::string m = BuildDsn(in, 1763805900);
  EXPECT_NE(m.find("From: Mail Delivery System <abuse-desk@example.com>\r\n"), std::string::npos);
  EXPECT_EQ(m.find("MAILER-DAEMON"), std::string::npos);
  Parsed p = ParseMime(m);
  ASSERT_EQ(p.parts.size(), 3u);
  EXPECT_NE(p.parts[0].body.find("write to the postmaster of this mail system: "
                                 "<abuse-desk@example.com>"),
            std::string::npos)
      << p.parts[0].body;
  const std::string plain = BuildDsn(SampleInput(), 1763805900);
  EXPECT_EQ(plain.find("write to the postmaster"), std::string::npos);
  // A header cannot be smuggled in through the address.
  in.postmaster = "a@example.com>\r\nBcc: victim@example.org";
  for (const std::string& line : SplitCrlf(BuildDsn(in, 1))) {
    EXPECT_NE(line.rfind("Bcc:", 0), 0u) << line;
  }
}

TEST(BuildDsn, NoInjection) {
  DsnInput in = SampleInput();
  in.original_sender = "evil@example.com>\r\nBcc: victim@example.org";
  in.recipients[0].diagnostic = "smtp; 550 bad\r\n\r\n--boundary\r\nX-Injected: yes";
  // LF-only original headers with a body after the blank line: normalized, body left out.
  in.original_headers = "Subject: hi\nX-Mailer: test\n\nbody text that must not appear\n";
  std::string m = BuildDsn(in, 1763805900);
  for (const std::string& line : SplitCrlf(m)) {
    EXPECT_NE(line.rfind("Bcc:", 0), 0u) << line;
    EXPECT_NE(line.rfind("X-Injected:", 0), 0u) << line;
  }
  EXPECT_EQ(m.find("body text that must not appear"), std::string::npos);
  Parsed p = ParseMime(m);
  ASSERT_EQ(p.parts.size(), 3u);
  EXPECT_EQ(p.parts[2].body, "Subject: hi\r\nX-Mailer: test\r\n");
  // A boundary-like string in the headers forces a different boundary.
  DsnInput clash = SampleInput();
  std::string first = ParseMime(BuildDsn(clash, 7)).boundary;
  clash.original_headers = "X-Trap: " + first + "\r\n";
  Parsed q = ParseMime(BuildDsn(clash, 7));
  EXPECT_NE(q.boundary, first);
  EXPECT_EQ(q.parts.size(), 3u);
}

}  // namespace
}  // namespace outpost::delivery
