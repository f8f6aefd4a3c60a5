#include "mta/returnpath/report.hpp"

#include <cctype>

#include "common/strings.hpp"
#include "mta/returnpath/mime.hpp"

namespace outpost::returnpath {

namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

constexpr std::size_t kMaxReplyText = 500;

const std::string& FieldOf(const Fields& fields, std::string_view name) {
  static const std::string kEmpty;
  for (const auto& [n, v] : fields) {
    if (n == name) return v;
  }
  return kEmpty;
}

bool IsAddressChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) != 0 ||
         std::string_view("._%+-=!#$&'*/?^`{|}~").find(c) != std::string_view::npos;
}

// The first address in `text` ("" when none): the run of address characters around an '@'.
std::string FirstAddress(std::string_view text) {
  for (std::size_t at = text.find('@'); at != std::string_view::npos; at = text.find('@', at + 1)) {
    std::size_t start = at;
    while (start > 0 && IsAddressChar(text[start - 1])) --start;
    std::size_t end = at + 1;
    while (end < text.size() && IsAddressChar(text[end])) ++end;
    while (end > at + 1 && text[end - 1] == '.') --end;
    if (start < at && end > at + 1 &&
        text.substr(at + 1, end - at - 1).find('.') != std::string_view::npos) {
      return AsciiLowercase(text.substr(start, end - start));
    }
  }
  return "";
}

// "rfc822; <Ann@Example.com>" -> "ann@example.com".
std::string AddressField(std::string_view value) {
  std::size_t semi = value.find(';');
  if (semi != std::string_view::npos) value = value.substr(semi + 1);
  return FirstAddress(value);
}

// "dns; mx.example.com" -> "mx.example.com".
std::string TypedValue(std::string_view value) {
  std::size_t semi = value.find(';');
  return std::string(TrimBlanks(semi == std::string_view::npos ? value : value.substr(semi + 1)));
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// An enhanced status code "5.1.1" at the start of `text`; its length (0 when there is none).
std::size_t EnhancedLength(std::string_view text) {
  if (text.size() < 5 || (text[0] != '2' && text[0] != '4' && text[0] != '5') || text[1] != '.') {
    return 0;
  }
  std::size_t i = 2;
  std::size_t digits = 0;
  while (i < text.size() && IsDigit(text[i]) && digits < 3) ++i, ++digits;
  if (digits == 0 || i >= text.size() || text[i] != '.') return 0;
  ++i;
  digits = 0;
  while (i < text.size() && IsDigit(text[i]) && digits < 3) ++i, ++digits;
  if (digits == 0 || (i < text.size() && IsDigit(text[i]))) return 0;
  return i;
}

// The paragraph starting at `text` (up to a blank line), its lines joined by single spaces.
std::string Paragraph(std::string_view text) {
  std::string out;
  std::size_t pos = 0;
  while (pos < text.size() && out.size() < kMaxReplyText) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = TrimBlanks(text.substr(pos, end - pos));
    if (!line.empty() && line.back() == '\r') line = TrimBlanks(line.substr(0, line.size() - 1));
    if (line.empty()) break;
    if (!out.empty()) out += ' ';
    out += line;
    pos = end + 1;
  }
  return out.substr(0, kMaxReplyText);
}

// Cleans a reply text taken from prose: " (in reply to RCPT TO command)" and closing quotes go.
std::string CleanReplyText(std::string text) {
  if (std::size_t in_reply = text.find(" (in reply to "); in_reply != std::string::npos) {
    text.erase(in_reply);
  }
  while (!text.empty() && (text.back() == '\'' || text.back() == '"' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

// Finds the first SMTP error reply in prose: a 4xx/5xx code standing alone (then ' ', '-' or
// ':'), an optional enhanced status, and the text to the end of the paragraph.
bool FindReply(std::string_view text, FailedRecipient& out) {
  for (std::size_t i = 0; i + 3 <= text.size(); ++i) {
    if ((text[i] != '4' && text[i] != '5') || !IsDigit(text[i + 1]) || !IsDigit(text[i + 2])) {
      continue;
    }
    const bool starts =
        i == 0 || std::string_view(" \t\n'\"(:").find(text[i - 1]) != std::string_view::npos;
    const bool ends =
        i + 3 == text.size() || text[i + 3] == ' ' || text[i + 3] == '-' || text[i + 3] == ':';
    if (!starts || !ends) continue;
    out.reply_code = (text[i] - '0') * 100 + (text[i + 1] - '0') * 10 + (text[i + 2] - '0');
    std::string_view rest = text.substr(std::min(text.size(), i + 4));
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == ':')) rest.remove_prefix(1);
    if (std::size_t n = EnhancedLength(rest); n > 0) {
      out.status = std::string(rest.substr(0, n));
      rest.remove_prefix(n);
    }
    out.reply_text = CleanReplyText(Paragraph(TrimBlanks(rest)));
    out.diagnostic = "smtp;" + std::to_string(out.reply_code) +
                     (out.status.empty() ? "" : " " + out.status) + " " + out.reply_text;
    return true;
  }
  return false;
}

void ReadReturnedHeaders(const Part& original, Report& report) {
  auto take = [&](std::string& slot, std::string_view name) {
    if (slot.empty()) slot = std::string(TrimBlanks(original.Header(name)));
  };
  take(report.job_id, "x-job");
  take(report.message_id, "message-id");
  take(report.vmta, "x-virtual-mta");
  if (const std::string& rp = original.Header("return-path"); !rp.empty()) {
    const std::string sender = FirstAddress(rp);
    if (!sender.empty()) report.original_sender = sender;
  }
}

bool IsReturnedMessage(const std::string& type) {
  return type == "message/rfc822" || type == "text/rfc822-headers" ||
         type == "message/rfc822-headers" || type == "message/global";
}

// Without a returned-message part (plain-text bounces that quote the message inline): the first
// X-Job:, Message-ID: and X-Virtual-MTA: lines of the body.
void ScanInlineHeaders(std::string_view body, Report& report) {
  auto scan = [&](std::string& slot, std::string_view name) {
    if (!slot.empty()) return;
    for (std::size_t pos = 0; pos < body.size();) {
      std::size_t end = body.find('\n', pos);
      if (end == std::string_view::npos) end = body.size();
      std::string_view line = TrimBlanks(body.substr(pos, end - pos));
      if (IStartsWith(line, name) && line.size() > name.size() && line[name.size()] == ':') {
        std::string_view v = TrimBlanks(line.substr(name.size() + 1));
        if (!v.empty() && v.back() == '\r') v.remove_suffix(1);
        slot = std::string(v);
        return;
      }
      pos = end + 1;
    }
  };
  scan(report.job_id, "X-Job");
  scan(report.message_id, "Message-ID");
  scan(report.vmta, "X-Virtual-MTA");
}

void ParseDeliveryStatus(std::string_view body, Report& report) {
  for (const Fields& block : ParseFieldBlocks(body)) {
    const std::string& final_rcpt = FieldOf(block, "final-recipient");
    if (final_rcpt.empty() && FieldOf(block, "original-recipient").empty()) {  // per-message
      if (report.env_id.empty()) report.env_id = FieldOf(block, "original-envelope-id");
      if (const std::string& s = FieldOf(block, "x-postfix-sender"); !s.empty()) {
        report.original_sender = AddressField(s);
      }
      continue;
    }
    if (!IStartsWith(TrimBlanks(FieldOf(block, "action")), "failed")) continue;
    FailedRecipient r;
    r.recipient =
        AddressField(final_rcpt.empty() ? FieldOf(block, "original-recipient") : final_rcpt);
    r.original_recipient = FieldOf(block, "original-recipient");
    r.remote_mta = TypedValue(FieldOf(block, "remote-mta"));
    const std::string& diag = FieldOf(block, "diagnostic-code");
    FindReply(TypedValue(diag), r);
    if (!diag.empty())
      r.diagnostic =
          std::string(TrimBlanks(diag.substr(0, diag.find(';')))) + ";" + TypedValue(diag);
    if (std::string status(TrimBlanks(FieldOf(block, "status"))); EnhancedLength(status) > 0) {
      r.status = status.substr(0, EnhancedLength(status));
    }
    report.failed.push_back(std::move(r));
  }
  report.format = "dsn";
}

// The line after the first line containing `marker` that is not blank, from `text`.
std::string_view LineAfter(std::string_view text, std::string_view marker, std::size_t* at) {
  std::size_t pos = text.find(marker);
  if (pos == std::string_view::npos) return {};
  pos = text.find('\n', pos);
  while (pos != std::string_view::npos && pos + 1 < text.size()) {
    std::size_t end = text.find('\n', pos + 1);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = TrimBlanks(text.substr(pos + 1, end - pos - 1));
    if (!line.empty() && line != "\r") {
      *at = pos + 1;
      return line;
    }
    pos = end;
  }
  return {};
}

// A "<addr>:" line at the start of a line (Postfix's and Yahoo's prose); its offset in `at`.
std::string AngleAddressLine(std::string_view text, std::size_t* at) {
  for (std::size_t pos = 0; pos < text.size();) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    std::size_t close = line.find(">:");
    if (!line.empty() && line[0] == '<' && close != std::string_view::npos) {
      *at = pos;
      return FirstAddress(line.substr(1, close - 1));
    }
    pos = end + 1;
  }
  return "";
}

// Plain-text bounces: which style, the failed address and where its reply starts.
void ParseTextBounce(std::string_view text, Report& report) {
  struct Style {
    const char* format;
    const char* marker;
  };
  static const Style kStyles[] = {
      {"exim", "following address(es) failed"},
      {"exchange", "Delivery has failed to these recipients or groups"},
      {"yahoo", "unable to deliver your message to the following address"},
  };
  FailedRecipient r;
  std::size_t at = std::string_view::npos;
  for (const Style& s : kStyles) {
    std::string_view line = LineAfter(text, s.marker, &at);
    if (!line.empty()) {
      r.recipient = FirstAddress(line);
      report.format = s.format;
      break;
    }
  }
  if (r.recipient.empty()) {
    if (std::size_t g = text.find("wasn't delivered to "); g != std::string_view::npos) {
      r.recipient = FirstAddress(text.substr(g + 20, 320));
      report.format = "gmail";
      at = g;
    }
  }
  if (r.recipient.empty()) {
    r.recipient = AngleAddressLine(text, &at);
    report.format = "postfix";
  }
  if (r.recipient.empty()) return;
  FindReply(text.substr(at), r);
  report.failed.push_back(std::move(r));
}

std::string BodyText(const std::vector<Part>& leaves) {
  std::string text;
  for (const Part& leaf : leaves) {
    if (leaf.ContentType() == "text/plain") text += leaf.DecodedBody() + "\n";
  }
  return text;
}

// A bounce that names no recipient (a terse plain-text notice) sent to a VERP address: the
// recipient is the one the address encodes, if the text carries an SMTP error reply. Anything
// else arriving there (an auto-reply, a challenge) is not taken for a bounce.
void ReadVerpOnlyBounce(std::string_view text, const std::string& verp, Report& report) {
  FailedRecipient r;
  if (!FindReply(text, r)) return;
  r.recipient = verp;
  report.format = "verp";
  report.failed.push_back(std::move(r));
}

void Finish(Report& report, std::string_view envelope_recipient) {
  if (report.original_sender.empty()) report.original_sender = AsciiLowercase(envelope_recipient);
}

}  // namespace

std::string VerpRecipient(std::string_view address) {
  const std::size_t at = address.rfind('@');
  if (at == std::string_view::npos) return "";
  std::string_view local = address.substr(0, at);
  std::size_t sep = local.find('+');
  if (sep == std::string_view::npos) sep = local.find('-');
  if (sep == std::string_view::npos) return "";
  std::string_view encoded = local.substr(sep + 1);
  const std::size_t eq = encoded.rfind('=');
  if (eq == std::string_view::npos || eq == 0 || eq + 1 >= encoded.size()) return "";
  std::string_view domain = encoded.substr(eq + 1);
  if (domain.find('.') == std::string_view::npos) return "";
  return AsciiLowercase(std::string(encoded.substr(0, eq)) + "@" + std::string(domain));
}

Report ParseBounce(std::string_view message, std::string_view envelope_recipient) {
  Report report;
  bool truncated = false;
  const std::vector<Part> leaves = Leaves(ParsePart(message), &truncated);
  bool returned = false;
  for (const Part& leaf : leaves) {
    const std::string type = leaf.ContentType();
    if (type == "message/delivery-status" || type == "message/global-delivery-status") {
      ParseDeliveryStatus(leaf.DecodedBody(), report);
    } else if (IsReturnedMessage(type)) {
      ReadReturnedHeaders(ParsePart(leaf.DecodedBody()), report);
      returned = true;
    }
  }
  const std::string text = BodyText(leaves);
  if (report.failed.empty()) ParseTextBounce(text, report);
  if (!returned) ScanInlineHeaders(text, report);
  Finish(report, envelope_recipient);
  // VERP: the address the report came back to names the recipient, else the original sender may.
  std::string verp = VerpRecipient(envelope_recipient);
  if (verp.empty()) verp = VerpRecipient(report.original_sender);
  if (report.failed.empty() && !verp.empty()) ReadVerpOnlyBounce(text, verp, report);
  for (FailedRecipient& r : report.failed) {
    if (r.recipient.empty()) r.recipient = verp;
  }
  std::erase_if(report.failed, [](const FailedRecipient& r) { return r.recipient.empty(); });
  report.understood = !report.failed.empty();
  if (!report.understood) {
    report.problem = truncated ? "too deeply nested or too many MIME parts"
                               : "no failed recipient found (neither a delivery-status report "
                                 "nor a known plain-text bounce)";
  }
  return report;
}

Report ParseFeedback(std::string_view message, std::string_view envelope_recipient) {
  Report report;
  bool truncated = false;
  const std::vector<Part> leaves = Leaves(ParsePart(message), &truncated);
  std::string to_header;
  std::string hotmail_recipient;
  bool arf = false;
  for (const Part& leaf : leaves) {
    const std::string type = leaf.ContentType();
    if (type == "message/feedback-report") {
      arf = true;
      for (const Fields& block : ParseFieldBlocks(leaf.DecodedBody())) {
        auto take = [&](std::string& slot, std::string_view name) {
          if (slot.empty()) slot = FieldOf(block, name);
        };
        take(report.feedback_type, "feedback-type");
        take(report.user_agent, "user-agent");
        take(report.reporting_mta, "reporting-mta");
        take(report.source_ip, "source-ip");
        if (report.complainer.empty()) {
          report.complainer = FirstAddress(FieldOf(block, "original-rcpt-to"));
        }
        if (const std::string& from = FieldOf(block, "original-mail-from"); !from.empty()) {
          report.original_sender = FirstAddress(from);
        }
      }
    } else if (IsReturnedMessage(type)) {
      const Part original = ParsePart(leaf.DecodedBody());
      ReadReturnedHeaders(original, report);
      hotmail_recipient = FirstAddress(original.Header("x-hmxmroriginalrecipient"));
      const std::string& to = original.Header("to");
      if (to.find(',') == std::string::npos) to_header = FirstAddress(to);
    }
  }
  report.format = arf ? "arf" : "jmrp";
  report.feedback_type = AsciiLowercase(TrimBlanks(report.feedback_type));
  if (report.feedback_type.empty()) report.feedback_type = "abuse";
  report.reporting_mta = TypedValue(report.reporting_mta);
  Finish(report, envelope_recipient);
  for (const std::string& candidate :
       {hotmail_recipient, VerpRecipient(report.original_sender), to_header}) {
    if (report.complainer.empty()) report.complainer = candidate;
  }
  report.understood = !report.complainer.empty() && (arf || !hotmail_recipient.empty());
  if (!report.understood) {
    report.problem = truncated ? "too deeply nested or too many MIME parts"
                     : arf     ? "feedback report names no recipient"
                               : "not a feedback report (no message/feedback-report part)";
  }
  return report;
}

}  // namespace outpost::returnpath
