#include "mta/smtp/pickup_file.hpp"

#include <algorithm>
#include <optional>

#include "common/strings.hpp"
#include "mta/smtp/command_parser.hpp"

namespace outpost::smtp {
namespace {

// `file` with every line ended by CRLF; nullopt (and `error`) for a NUL or a CR without LF.
std::optional<std::string> ToCrlf(std::string_view file, std::string& error) {
  std::string out;
  out.reserve(file.size() + file.size() / 32);
  std::size_t line = 1;
  for (std::size_t i = 0; i < file.size(); ++i) {
    const char ch = file[i];
    if (ch == '\0') {
      error = "NUL byte on line " + std::to_string(line);
      return std::nullopt;
    }
    if (ch == '\r' && (i + 1 == file.size() || file[i + 1] != '\n')) {
      error = "CR without LF on line " + std::to_string(line);
      return std::nullopt;
    }
    if (ch == '\n') {
      if (i == 0 || file[i - 1] != '\r') out.push_back('\r');
      ++line;
    }
    out.push_back(ch);
  }
  return out;
}

// The address of an x-sender / x-receiver value: `<a@b>` or `a@b`, anything after it ignored.
std::string AddressOf(std::string_view value) {
  value.remove_prefix(std::min(value.size(), value.find_first_not_of(" \t\r\n")));
  if (!value.empty() && value.front() == '<') {
    const std::size_t close = value.find('>');
    return std::string(value.substr(1, close == std::string_view::npos ? value.npos : close - 1));
  }
  return std::string(value.substr(0, value.find_first_of(" \t\r\n")));
}

// One header field: its text from the name to the CRLF ending its last (folded) line.
struct Field {
  std::string_view name;   // as written
  std::string_view value;  // after the colon, folding kept
  std::string_view text;   // the whole field, CRLF included
};

// The field starting at `pos` of `message` (the start of a line that is not blank); the field's
// name is empty when the line is not a header field.
Field FieldAt(std::string_view message, std::size_t pos) {
  std::size_t end = pos;
  do {
    const std::size_t crlf = message.find("\r\n", end);
    end = crlf == std::string_view::npos ? message.size() : crlf + 2;
  } while (end < message.size() && (message[end] == ' ' || message[end] == '\t'));
  Field f;
  f.text = message.substr(pos, end - pos);
  const std::size_t colon = f.text.find(':');
  const std::size_t line_end = f.text.find("\r\n");
  if (colon == std::string_view::npos || colon == 0 || colon > line_end) return f;
  const std::string_view name = f.text.substr(0, colon);
  if (name.find_first_of(" \t") != std::string_view::npos) return f;
  f.name = name;
  f.value = f.text.substr(colon + 1);
  return f;
}

// Takes the envelope from x-sender / x-receiver `f`; false (and `out.error`) when it is bad.
bool TakeEnvelopeField(const Field& f, bool sender, bool& have_sender, PickupMessage& out) {
  const std::string address = AddressOf(f.value);
  const char* what = sender ? "x-sender" : "x-receiver";
  if (sender && have_sender) {
    out.error = "more than one x-sender field";
    return false;
  }
  if (!(sender && address.empty())) {
    const MailboxCheck check = CheckMailbox(address);
    if (!check.ok || check.source_route) {
      out.error = std::string(what) + " <" + address.substr(0, 200) + "> is not a mailbox (" +
                  std::string(check.why) + ")";
      return false;
    }
  }
  if (sender) {
    have_sender = true;
    out.mail_from = address;
  } else {
    out.recipients.push_back(address);
  }
  return true;
}

}  // namespace

PickupMessage ParsePickupFile(std::string_view file, std::uint64_t max_size) {
  PickupMessage out;
  if (max_size != 0 && file.size() > max_size) {
    out.error = "larger (" + std::to_string(file.size()) + " bytes) than max-message-size (" +
                std::to_string(max_size) + " bytes)";
    return out;
  }
  std::optional<std::string> message = ToCrlf(file, out.error);
  if (!message) return out;
  std::string kept;
  kept.reserve(message->size());
  bool have_sender = false;
  std::size_t pos = 0;
  std::size_t line = 1;
  while (pos < message->size() && message->compare(pos, 2, "\r\n") != 0) {
    const Field f = FieldAt(*message, pos);
    if (f.name.empty()) {
      out.error = "line " + std::to_string(line) + " is not a header field";
      return out;
    }
    const bool sender = IEquals(f.name, "x-sender");
    if (sender || IEquals(f.name, "x-receiver")) {
      if (!TakeEnvelopeField(f, sender, have_sender, out)) return out;
    } else {
      kept.append(f.text);
    }
    pos += f.text.size();
    for (char ch : f.text) line += ch == '\n' ? 1 : 0;
  }
  if (!have_sender) out.error = "no x-sender field (the envelope sender)";
  if (out.recipients.empty()) out.error = "no x-receiver field (the envelope recipients)";
  if (!out.error.empty()) return out;
  kept.append(*message, pos, std::string::npos);
  out.content = std::move(kept);
  return out;
}

}  // namespace outpost::smtp
