// RFC 4648 base64 (standard alphabet, `=` padding): SMTP AUTH exchanges and MIME bodies of
// inbound reports use this one implementation.
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace outpost {

std::string EncodeBase64(std::string_view data);

// Strict: a length that is a multiple of 4, only the alphabet, `=` only as the final padding;
// nullopt otherwise.
std::optional<std::string> DecodeBase64(std::string_view text);

// Lenient, for MIME bodies: characters outside the alphabet (line ends, blanks) are skipped and
// decoding stops at the first `=`.
std::string DecodeBase64Lenient(std::string_view text);

}  // namespace outpost
