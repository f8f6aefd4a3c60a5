#include "mta/smtp/message_headers.hpp"

#include <algorithm>
#include <vector>

#include "common/strings.hpp"
#include "common/time_format.hpp"
#include "mta/smtp/line_reader.hpp"

namespace outpost::smtp {
namespace {

bool IsWsp(char c) { return c == ' ' || c == '\t'; }

// One header field: [begin, end) covers its first line through its last CRLF.
struct Field {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::string_view name;
  std::size_t value_begin = 0;  // just after the colon
};

// Unfolds and cleans a field value: CRLFs removed, tabs become spaces, control characters dropped,
// surrounding whitespace trimmed, capped at kMaxHeaderValue.
std::string CleanValue(std::string_view raw) {
  std::string out;
  out.reserve(raw.size() < kMaxHeaderValue ? raw.size() : kMaxHeaderValue);
  for (char c : raw) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\t') c = ' ';
    if (u < 0x20 && c != ' ') continue;
    if (u == 0x7f) continue;
    if (c == ' ' && out.empty()) continue;
    out.push_back(c);
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (out.size() > kMaxHeaderValue) out.resize(kMaxHeaderValue);
  return out;
}

// Returns the length of the field name if `line` starts a field ("name:"), else npos.
std::size_t FieldNameLength(std::string_view line, std::size_t& colon) {
  colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return std::string_view::npos;
  std::size_t name_end = colon;
  while (name_end > 0 && IsWsp(line[name_end - 1])) --name_end;
  if (name_end == 0) return std::string_view::npos;
  for (std::size_t i = 0; i < name_end; ++i) {
    const auto u = static_cast<unsigned char>(line[i]);
    if (u < 33 || u > 126) return std::string_view::npos;
  }
  return name_end;
}

}  // namespace

std::string FormatReceived(const TraceInfo& trace) {
  std::string out;
  out.reserve(160 + trace.helo.size() + trace.host_name.size() + trace.recipient.size());
  out.append("Received: from ").append(trace.helo);
  if (!trace.client_literal.empty()) out.append(" (").append(trace.client_literal).append(")");
  out.append("\r\n\tby ").append(trace.host_name).append(" (Outpost) with ");
  out.append(trace.protocol).append(" id ").append(trace.queue_id);
  if (!trace.recipient.empty()) out.append("\r\n\tfor <").append(trace.recipient).append(">");
  out.append("; ").append(timefmt::FormatRfc5322Date(trace.time)).append("\r\n");
  return out;
}

HeaderResult ProcessHeaders(const TraceInfo& trace, std::string& message,
                            const HeaderOptions& options) {
  HeaderResult result;
  const std::string_view msg(message);
  std::vector<Field> removed;
  bool has_message_id = false;
  bool has_date = false;
  std::size_t pos = 0;
  std::size_t header_end = 0;  // where the header section ends (blank line or body start)
  Field current;
  bool in_field = false;

  auto keep_value = [&](std::optional<std::string>& slot, std::size_t end) {
    if (!slot) slot = CleanValue(msg.substr(current.value_begin, end - current.value_begin));
  };
  auto finish_field = [&](std::size_t end) {
    if (!in_field) return;
    current.end = end;
    in_field = false;
    const bool is_vmta = IEquals(current.name, "X-Virtual-MTA");
    const bool is_x_job = IEquals(current.name, "X-Job");
    const bool is_envid = options.process_x_envid && IEquals(current.name, "X-EnvID");
    if (is_vmta) keep_value(result.x_virtual_mta, end);
    if (IEquals(current.name, options.job_header)) keep_value(result.job, end);
    if (is_envid) keep_value(result.x_envid, end);
    const bool removed_field =
        (is_vmta && !options.retain_x_virtual_mta) || (is_x_job && !options.retain_x_job) ||
        is_envid || (options.remove_received && IEquals(current.name, "Received")) ||
        std::any_of(options.remove.begin(), options.remove.end(),
                    [&](const std::string& n) { return IEquals(current.name, n); });
    if (removed_field) {
      removed.push_back(current);
    } else if (IEquals(current.name, "Message-ID")) {
      has_message_id = true;
    } else if (IEquals(current.name, "Date")) {
      has_date = true;
    }
  };

  while (true) {
    if (pos >= msg.size()) {
      finish_field(msg.size());
      header_end = msg.size();
      break;
    }
    std::size_t crlf = FindCrlf(msg, pos);
    const std::size_t line_end = crlf == std::string_view::npos ? msg.size() : crlf;
    const std::size_t next = crlf == std::string_view::npos ? msg.size() : crlf + 2;
    const std::string_view line = msg.substr(pos, line_end - pos);
    if (line.empty()) {  // the blank line separating headers from body
      finish_field(pos);
      header_end = pos;
      break;
    }
    if (IsWsp(line.front())) {
      if (!in_field) {  // a continuation with nothing to continue: not a header section
        header_end = pos;
        break;
      }
      pos = next;
      continue;
    }
    std::size_t colon = 0;
    const std::size_t name_len = FieldNameLength(line, colon);
    if (name_len == std::string_view::npos) {
      finish_field(pos);
      header_end = pos;
      break;
    }
    finish_field(pos);
    current = Field{pos, 0, line.substr(0, name_len), pos + colon + 1};
    in_field = true;
    pos = next;
  }

  const std::string received = options.add_received ? FormatReceived(trace) : std::string();
  std::string appended;
  if (!has_message_id && options.add_message_id) {
    appended.append("Message-ID: <").append(trace.queue_id).append("@");
    appended.append(trace.host_name).append(">\r\n");
    result.message_id_added = true;
  }
  if (!has_date && options.add_date) {
    appended.append("Date: ").append(timefmt::FormatRfc5322Date(trace.time)).append("\r\n");
  }
  std::string out;
  out.reserve(message.size() + received.size() + appended.size());
  out.append(received);
  std::size_t copied = 0;
  for (const Field& f : removed) {
    out.append(msg.substr(copied, f.begin - copied));
    copied = f.end;
  }
  out.append(msg.substr(copied, header_end - copied));
  // A header section that ended without CRLF (message is headers only, no final CRLF).
  if (header_end > 0 && header_end == msg.size() && msg.size() >= 1 &&
      !(msg.size() >= 2 && msg.substr(msg.size() - 2) == "\r\n")) {
    out.append("\r\n");
  }
  out.append(appended);
  out.append(msg.substr(header_end));
  message.swap(out);
  return result;
}

}  // namespace outpost::smtp
