// VERP (variable envelope return path): the recipient encoded in the envelope sender, so that a
// bounce names the recipient by the address it comes back to. With the delimiters "+=" the sender
// bounces@b.example sending to ann@example.com becomes bounces+ann=example.com@b.example.
//
// Delimiters: two characters, the first separating the sender's local part from the encoded
// recipient ('+' or '-'), the second replacing the recipient's '@' ('='). Outpost accepts only
// "+=" (the default) and "-=", the two forms the return path decodes (see VerpRecipient in
// mta/returnpath/report.hpp).
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace outpost {

inline constexpr std::string_view kDefaultVerpDelimiters = "+=";

bool ValidVerpDelimiters(std::string_view delimiters);

// `sender` with `recipient` encoded. The null sender ("") and a sender or recipient without '@'
// are returned unchanged: there is nothing to encode into or from.
std::string VerpSender(std::string_view sender, std::string_view recipient,
                       std::string_view delimiters);

}  // namespace outpost
