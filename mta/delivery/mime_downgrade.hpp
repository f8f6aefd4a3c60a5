// 8-bit MIME to 7-bit (RFC 6152 section 3: a server that does not offer 8BITMIME must get 7-bit
// data; the client converts or returns the message as undeliverable).
//
// DowngradeTo7Bit() is a pure function over a complete message in the spool's form (header
// section, empty line, body; CRLF line ends; not dot-stuffed). It walks the MIME tree:
// * multipart/* (with a boundary): each body part is converted on its own; boundaries, the
//   parts' order and the CRLF before each delimiter stay as they are. 8-bit bytes in a preamble
//   or epilogue (text MIME readers never show) become '?'.
// * message/rfc822 and message/global bodies: the encapsulated message is converted the same way.
// * any other part (a leaf) whose body has 8-bit bytes is re-encoded: text/* as quoted-printable
//   (line breaks stay CRLF hard breaks; soft breaks keep encoded lines at most 76 characters),
//   everything else as base64 (76-character lines); its Content-Transfer-Encoding field is
//   replaced (or added at the end of the part's header section). A leaf without 8-bit bytes is
//   copied byte for byte, whatever its line lengths.
// * The top level of a non-MIME message (no MIME-Version field) is a text/plain leaf; when it is
//   converted, "MIME-Version: 1.0" is added as well, or readers would not decode the body.
// Apart from Content-Transfer-Encoding (and that MIME-Version), header fields are never changed.
//
// Not convertible (kNotConvertible, with `error` saying why; the caller bounces with 5.6.3):
// 8-bit bytes in any header section (the message's or a part's: RFC 2047 re-encoding would need
// the charset, which 8-bit headers do not declare), 8-bit bytes in a part that already says
// base64 or quoted-printable (a broken part: encoding it again would change its content), MIME
// nesting deeper than kMaxDepth.
//
// Invariants: the result has no byte >= 0x80, every line end it writes is CRLF, and a message
// without 8-bit bytes is returned as kSevenBit with no copy made.
//
// Thread-safety: pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace outpost::delivery {

enum class DowngradeStatus {
  kSevenBit,        // no 8-bit byte anywhere: send the message as it is (`data` is empty)
  kConverted,       // `data` is the 7-bit form
  kNotConvertible,  // `error` says why
};

struct DowngradeResult {
  DowngradeStatus status = DowngradeStatus::kSevenBit;
  std::string data;
  std::string error;
};

inline constexpr int kMaxMimeDepth = 32;

// True when `data` has a byte >= 0x80.
bool HasEightBitBytes(std::string_view data);

DowngradeResult DowngradeTo7Bit(std::string_view message);

}  // namespace outpost::delivery
