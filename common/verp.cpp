#include "common/verp.hpp"

namespace outpost {

bool ValidVerpDelimiters(std::string_view delimiters) {
  return delimiters.size() == 2 && (delimiters[0] == '+' || delimiters[0] == '-') &&
         delimiters[1] == '=';
}

std::string VerpSender(std::string_view sender, std::string_view recipient,
                       std::string_view delimiters) {
  const std::size_t sender_at = sender.rfind('@');
  const std::size_t rcpt_at = recipient.rfind('@');
  if (sender_at == std::string_view::npos || rcpt_at == std::string_view::npos ||
      !ValidVerpDelimiters(delimiters)) {
    return std::string(sender);
  }
  std::string out;
  out.reserve(sender.size() + recipient.size() + 1);
  out.append(sender.substr(0, sender_at));
  out.push_back(delimiters[0]);
  out.append(recipient.substr(0, rcpt_at));
  out.push_back(delimiters[1]);
  out.append(recipient.substr(rcpt_at + 1));
  out.append(sender.substr(sender_at));
  return out;
}

}  // namespace outpost
