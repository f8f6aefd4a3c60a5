#include "mta/smtp/reply.hpp"

namespace outpost::smtp {
namespace {

void AppendCode(std::string& out, int code, char separator) {
  out.push_back(static_cast<char>('0' + (code / 100) % 10));
  out.push_back(static_cast<char>('0' + (code / 10) % 10));
  out.push_back(static_cast<char>('0' + code % 10));
  out.push_back(separator);
}

// Client-derived text (e.g. an EHLO name) must never break the reply framing.
void AppendSafeText(std::string& out, std::string_view text) {
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7f ? '?' : c);
  }
}

}  // namespace

void AppendReply(std::string& out, int code, std::string_view enhanced, std::string_view text) {
  AppendCode(out, code, ' ');
  if (!enhanced.empty()) {
    out.append(enhanced);
    out.push_back(' ');
  }
  AppendSafeText(out, text);
  out.append("\r\n");
}

void AppendReply(std::string& out, const Reply& reply) {
  AppendReply(out, reply.code, reply.enhanced, reply.text);
}

void AppendMultilineReply(std::string& out, int code, const std::vector<std::string>& lines) {
  for (std::size_t i = 0; i < lines.size(); ++i) {
    AppendCode(out, code, i + 1 == lines.size() ? ' ' : '-');
    AppendSafeText(out, lines[i]);
    out.append("\r\n");
  }
}

}  // namespace outpost::smtp
