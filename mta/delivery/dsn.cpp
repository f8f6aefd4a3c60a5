#include "mta/delivery/dsn.hpp"

#include "common/time_format.hpp"

namespace outpost::delivery {

namespace {

constexpr std::size_t kMaxFieldValue = 900;  // keeps "Diagnostic-Code: " + value under 998

// One header value: control characters become spaces, non-ASCII becomes '?', cut to `max`.
std::string Clean(const std::string& in, std::size_t max = kMaxFieldValue) {
  std::string out;
  out.reserve(in.size() < max ? in.size() : max);
  for (unsigned char c : in) {
    if (out.size() >= max) break;
    if (c < 0x20 || c == 0x7f) {
      out += ' ';
    } else if (c >= 0x80) {
      out += '?';
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// The original header section with every line end as CRLF, ending in CRLF, no blank line
// (a blank line would end the part's headers early and leak body text into it).
std::string NormalizeHeaders(const std::string& in) {
  std::string out;
  std::string line;
  auto flush = [&]() {
    if (!line.empty()) {
      if (line.size() > 998) line.resize(998);
      out += line;
      out += "\r\n";
    }
    line.clear();
  };
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < in.size() && in[i + 1] == '\n') ++i;
      if (line.empty()) break;  // end of the header section
      flush();
    } else {
      line += c;
    }
  }
  flush();
  return out;
}

// "smtp; 451 4.2.0 try later" -> "451 4.2.0 try later" (the type is for programs).
std::string DiagnosticText(const std::string& diagnostic) {
  const std::size_t semi = diagnostic.find(';');
  if (semi == std::string::npos || semi > 20) return diagnostic;
  std::size_t start = semi + 1;
  while (start < diagnostic.size() && diagnostic[start] == ' ') ++start;
  return diagnostic.substr(start);
}

std::string SubjectFor(const std::vector<DsnRecipient>& recipients) {
  bool failed = false, delayed = false;
  for (const DsnRecipient& r : recipients) {
    if (r.action == "failed") failed = true;
    if (r.action == "delayed") delayed = true;
  }
  if (failed || recipients.empty()) return "Delivery Status Notification (Failure)";
  if (delayed) return "Delivery Status Notification (Delay)";
  return "Delivery Status Notification (Success)";
}

std::string Boundary(const DsnInput& in, std::int64_t now, const std::string& headers) {
  std::string base = "=_outpost-dsn-" + Clean(in.queue_id, 40) + "-" + std::to_string(now);
  for (char& c : base) {
    // Boundary characters (RFC 2046 bchars), without space.
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '=' || c == '-' || c == '_' || c == '.';
    if (!ok) c = '_';
  }
  std::string b = base;
  for (int n = 1; headers.find(b) != std::string::npos; ++n) b = base + "-" + std::to_string(n);
  return b;
}

}  // namespace

std::string BuildDsn(const DsnInput& input, std::int64_t now_unix) {
  const std::string mta = Clean(input.reporting_mta, 200);
  const std::string headers = NormalizeHeaders(input.original_headers);
  const std::string boundary = Boundary(input, now_unix, headers);
  const std::string date = timefmt::FormatRfc5322Date(now_unix);

  std::string m;
  m.reserve(2048 + headers.size());
  const std::string postmaster = Clean(input.postmaster, 300);
  m += "From: Mail Delivery System <" + (postmaster.empty() ? "MAILER-DAEMON@" + mta : postmaster) +
       ">\r\n";
  m += "To: <" + Clean(input.original_sender, 400) + ">\r\n";
  m += "Subject: " + SubjectFor(input.recipients) + "\r\n";
  m += "Date: " + date + "\r\n";
  m += "Message-ID: <" + Clean(input.queue_id, 100) + "." + std::to_string(now_unix) + ".dsn@" +
       mta + ">\r\n";
  m += "Auto-Submitted: auto-replied\r\n";
  m += "MIME-Version: 1.0\r\n";
  m += "Content-Type: multipart/report; report-type=delivery-status;\r\n";
  m += "\tboundary=\"" + boundary + "\"\r\n";
  m += "\r\n";
  m += "This is a MIME-encapsulated message.\r\n";

  // Part 1: for people.
  m += "\r\n--" + boundary + "\r\n";
  m += "Content-Type: text/plain; charset=us-ascii\r\n";
  m += "Content-Description: Notification\r\n";
  m += "\r\n";
  m += "This is the mail system at host " + mta + ".\r\n\r\n";
  m += "Your message could not be delivered to one or more recipients, or its delivery is\r\n";
  m += "delayed. The details are below.\r\n\r\n";
  if (!postmaster.empty()) {
    m += "For help, write to the postmaster of this mail system: <" + postmaster + ">.\r\n\r\n";
  }
  for (const DsnRecipient& r : input.recipients) {
    std::string line = "<" + Clean(r.address, 400) + ">: " + Clean(r.action, 20);
    if (!r.expired_after.empty()) {
      line += ": ";
      if (!r.diagnostic.empty()) {
        line += "delivery was deferred";
        if (!r.remote_mta.empty()) line += " by " + Clean(r.remote_mta, 300);
        line += ": " + Clean(DiagnosticText(r.diagnostic)) + "; the message";
      } else {
        line += "the message";
      }
      line += " expired after " + Clean(r.expired_after, 40) + " in the queue (bounce-after)";
    } else if (!r.diagnostic.empty()) {
      line += ": " + Clean(r.diagnostic);
    }
    if (line.size() > 998) line.resize(998);
    m += line + "\r\n";
  }

  // Part 2: for programs.
  m += "\r\n--" + boundary + "\r\n";
  m += "Content-Type: message/delivery-status\r\n";
  m += "Content-Description: Delivery report\r\n";
  m += "\r\n";
  m += "Reporting-MTA: dns; " + mta + "\r\n";
  if (!input.queue_id.empty()) m += "X-Outpost-Queue-ID: " + Clean(input.queue_id, 100) + "\r\n";
  if (!input.original_envelope_id.empty()) {
    m += "Original-Envelope-Id: " + Clean(input.original_envelope_id, 100) + "\r\n";
  }
  m += "Arrival-Date: " + timefmt::FormatRfc5322Date(input.arrival_time) + "\r\n";
  for (const DsnRecipient& r : input.recipients) {
    m += "\r\n";
    m += "Final-Recipient: rfc822; " + Clean(r.address, 400) + "\r\n";
    m += "Action: " + Clean(r.action, 20) + "\r\n";
    m += "Status: " + Clean(r.status, 20) + "\r\n";
    if (!r.remote_mta.empty()) m += "Remote-MTA: dns; " + Clean(r.remote_mta, 300) + "\r\n";
    if (!r.diagnostic.empty()) m += "Diagnostic-Code: " + Clean(r.diagnostic) + "\r\n";
    m += "Last-Attempt-Date: " + date + "\r\n";
  }

  // Part 3: the original headers.
  if (!headers.empty()) {
    m += "\r\n--" + boundary + "\r\n";
    m += "Content-Type: text/rfc822-headers\r\n";
    m += "Content-Description: Undelivered Message Headers\r\n";
    m += "\r\n";
    m += headers;
  }
  m += "\r\n--" + boundary + "--\r\n";
  return m;
}

}  // namespace outpost::delivery
