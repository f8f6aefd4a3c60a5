// Fuzzes DKIM canonicalisation (mta/dkim/dkim.hpp): Split(), CanonicalHeader() and
// CanonicalBody()/BodyHash() on one input = a message (headers, blank line, body).
//
// Invariants checked beyond "no crash":
//  * Split(): header fields are consecutive pieces of the message, each name a prefix of its
//    field; the body is a suffix of the message;
//  * relaxed header: the name is lower-case with no trailing WSP, the value has no WSP run, no
//    WSP at either end and no CRLF; applying it twice changes nothing (for fields whose CR and LF
//    only appear as CRLF, i.e. what Split() can produce from a valid message);
//  * simple header: unchanged;
//  * body, both modes: empty (relaxed only) or ends with exactly one CRLF after the last non-empty
//    line; idempotent; BodyHash() (the streaming hasher) == base64(SHA-256(CanonicalBody())).
#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/fuzz_check.hpp"
#include "mta/dkim/dkim.hpp"

namespace {

using outpost::dkim::Canon;

bool IsWsp(char c) { return c == ' ' || c == '\t'; }

bool OnlyCrlfPairs(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r' && (i + 1 == s.size() || s[i + 1] != '\n')) return false;
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) return false;
  }
  return true;
}

std::string Sha256Base64(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  FUZZ_CHECK(EVP_Digest(data.data(), data.size(), digest, &n, EVP_sha256(), nullptr) == 1,
             "SHA-256");
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  const int len =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), digest, static_cast<int>(n));
  out.resize(static_cast<std::size_t>(len));
  return out;
}

void CheckHeader(std::string_view field) {
  FUZZ_CHECK(outpost::dkim::CanonicalHeader(field, Canon::kSimple) == field, "simple: unchanged");
  const std::string relaxed = outpost::dkim::CanonicalHeader(field, Canon::kRelaxed);
  const std::size_t colon = relaxed.find(':');
  const std::string_view name = std::string_view(relaxed).substr(0, colon);
  for (char c : name) FUZZ_CHECK(!(c >= 'A' && c <= 'Z'), "relaxed: name lower-case");
  FUZZ_CHECK(name.empty() || !IsWsp(name.back()), "relaxed: no WSP before the colon");
  if (colon == std::string::npos) return;
  const std::string_view value = std::string_view(relaxed).substr(colon + 1);
  FUZZ_CHECK(value.empty() || (!IsWsp(value.front()) && !IsWsp(value.back())),
             "relaxed: value trimmed");
  for (std::size_t i = 0; i < value.size(); ++i) {
    FUZZ_CHECK(!(IsWsp(value[i]) && value[i] != ' '), "relaxed: WSP is SP");
    FUZZ_CHECK(!(value[i] == ' ' && i + 1 < value.size() && value[i + 1] == ' '),
               "relaxed: no WSP run");
  }
  if (OnlyCrlfPairs(field)) {
    FUZZ_CHECK(value.find("\r\n") == std::string_view::npos, "relaxed: unfolded");
    FUZZ_CHECK(outpost::dkim::CanonicalHeader(relaxed, Canon::kRelaxed) == relaxed,
               "relaxed: idempotent");
  }
}

void CheckBody(std::string_view body, Canon canon) {
  const std::string c = outpost::dkim::CanonicalBody(body, canon);
  if (c.empty()) {
    FUZZ_CHECK(canon == Canon::kRelaxed, "simple: never empty");
  } else {
    FUZZ_CHECK(c.size() >= 2 && c.compare(c.size() - 2, 2, "\r\n") == 0, "ends with CRLF");
    FUZZ_CHECK(c == "\r\n" || c.size() < 4 || c.compare(c.size() - 4, 4, "\r\n\r\n") != 0,
               "no trailing empty line");
  }
  FUZZ_CHECK(outpost::dkim::CanonicalBody(c, canon) == c, "body canonicalisation idempotent");
  FUZZ_CHECK(outpost::dkim::BodyHash(body, canon) == Sha256Base64(c),
             "streaming hash == hash of the canonical body");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view message = outpost::fuzz::AsText(data, size);
  const outpost::dkim::SplitMessage split = outpost::dkim::Split(message);
  const char* cursor = message.data();
  for (const outpost::dkim::HeaderField& h : split.headers) {
    FUZZ_CHECK(h.field.data() == cursor, "fields are consecutive");
    FUZZ_CHECK(h.field.data() + h.field.size() <= message.data() + message.size(), "in message");
    FUZZ_CHECK(h.name.empty() || h.name.data() == h.field.data(), "name starts the field");
    FUZZ_CHECK(h.name.size() <= h.field.size(), "name within the field");
    cursor = h.field.data() + h.field.size() + 2;  // past its CRLF
    CheckHeader(h.field);
  }
  if (!split.body.empty()) {
    FUZZ_CHECK(split.body.data() + split.body.size() == message.data() + message.size(),
               "body is a suffix");
  }
  CheckHeader(message.substr(0, 2000));  // also a whole input as one field
  for (Canon canon : {Canon::kRelaxed, Canon::kSimple}) CheckBody(split.body, canon);
  return 0;
}
