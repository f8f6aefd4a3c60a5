// DowngradeTo7Bit: table-driven. Each case gives a message and checks the outcome, that the result
// is 7-bit, which parts were re-encoded, that the decoded content equals the original, and that
// the bytes the converter must not touch (other header fields, boundaries, 7-bit parts, CRLF)
// are unchanged.
#include "mta/delivery/mime_downgrade.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace outpost::delivery {
namespace {

std::string DecodeQp(const std::string& in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '=' && i + 2 < in.size() && in[i + 1] == '\r' && in[i + 2] == '\n') {
      i += 2;  // soft break
    } else if (in[i] == '=' && i + 2 < in.size()) {
      out += static_cast<char>(std::stoi(in.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += in[i];
    }
  }
  return out;
}

std::string DecodeBase64(const std::string& in) {
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const std::size_t v = kAlphabet.find(c);
    if (v == std::string::npos) continue;  // CRLF, '='
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

// Every line of `s` ends in CRLF (no bare CR or LF) and is at most `max` characters.
bool CrlfLinesWithin(const std::string& s, std::size_t max) {
  std::size_t start = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) return false;
    if (s[i] == '\r' && (i + 1 >= s.size() || s[i + 1] != '\n')) return false;
    if (s[i] == '\n') {
      if (i - 1 - start > max) return false;
      start = i + 1;
    }
  }
  return true;
}

// The body of the part whose header section contains `marker` (up to the next CRLF--).
std::string PartBody(const std::string& message, const std::string& marker) {
  const std::size_t h = message.find(marker);
  if (h == std::string::npos) return "<no part " + marker + ">";
  const std::size_t body = message.find("\r\n\r\n", h) + 4;
  const std::size_t end = message.find("\r\n--", body);
  return message.substr(body, end - body);
}

const std::string kLatin =
    "Gr\xc3\xbc\xc3\x9f"
    "e aus K\xc3\xb6ln \xe2\x82\xac";  // UTF-8
const std::string kBinary = std::string("\x89PNG\r\n\x1a\n\x00\xff\xfe\x80", 12) + "tail";

struct Case {
  const char* label;
  std::string in;
  DowngradeStatus status;
  // (marker in a part's header section, encoding it must now say, decoded body it must have)
  std::vector<std::tuple<std::string, std::string, std::string>> parts;
  std::vector<std::string> unchanged;  // substrings of `in` that must appear verbatim in the output
  std::string error;                   // for kNotConvertible: a substring of the error
};

std::vector<Case> Cases() {
  const std::string long_line(300, 'a');
  return {
      {"7-bit message: nothing to do",
       "From: a@x\r\nSubject: s\r\n\r\nhello\r\n",
       DowngradeStatus::kSevenBit,
       {},
       {},
       ""},
      {"plain text, no MIME: quoted-printable, MIME-Version added, other fields unchanged",
       "From: a@x\r\nSubject: s\r\n\r\n" + kLatin + "\r\nline 2 \r\n",
       DowngradeStatus::kConverted,
       {{"Subject: s", "quoted-printable", kLatin + "\r\nline 2 \r\n"}},
       {"From: a@x\r\nSubject: s\r\n"},
       ""},
      {"MIME text with 8bit CTE: the field is replaced, charset kept",
       "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
       "Content-Transfer-Encoding: 8bit\r\nX-Keep: 1\r\n\r\n" +
           kLatin + "\r\n",
       DowngradeStatus::kConverted,
       {{"charset=utf-8", "quoted-printable", kLatin + "\r\n"}},
       {"Content-Type: text/plain; charset=utf-8\r\n", "X-Keep: 1\r\n"},
       ""},
      {"multipart/alternative: the 8-bit text part converted, the 7-bit html part untouched",
       "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n"
       "preamble\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n"
       "Content-Transfer-Encoding: 8bit\r\n\r\n" +
           kLatin +
           "\r\n--b1\r\nContent-Type: text/html\r\n\r\n<p>ascii</p>\r\n--b1--\r\nepilogue\r\n",
       DowngradeStatus::kConverted,
       {{"charset=utf-8", "quoted-printable", kLatin}},
       {"preamble\r\n--b1\r\n",
        "\r\n--b1\r\nContent-Type: text/html\r\n\r\n<p>ascii</p>\r\n--b1--\r\n"
        "epilogue\r\n"},
       ""},
      {"nested multipart: mixed > alternative > 8-bit text, and an 8-bit binary attachment",
       "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=outer\r\n\r\n"
       "--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n"
       "--inner\r\nContent-Type: text/plain; charset=utf-8; x=inner-text\r\n\r\n" +
           kLatin +
           "\r\n--inner--\r\n"
           "\r\n--outer\r\nContent-Type: application/octet-stream; name=a.bin\r\n"
           "Content-Transfer-Encoding: binary\r\n\r\n" +
           kBinary + "\r\n--outer--\r\n",
       DowngradeStatus::kConverted,
       {{"x=inner-text", "quoted-printable", kLatin}, {"name=a.bin", "base64", kBinary}},
       {"--outer\r\n", "--inner\r\n", "--inner--\r\n", "--outer--\r\n"},
       ""},
      {"an attachment already in base64 stays as it is",
       "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
       "--b\r\nContent-Type: text/plain; charset=iso-8859-1; x=t\r\n\r\ncaf\xe9\r\n"
       "--b\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
       "iVBORw0KGgo=\r\n--b--\r\n",
       DowngradeStatus::kConverted,
       {{"x=t", "quoted-printable", "caf\xe9"}},
       {"--b\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        "iVBORw0KGgo=\r\n--b--\r\n"},
       ""},
      {"a binary single-part message: base64",
       "MIME-Version: 1.0\r\nContent-Type: application/pdf\r\n\r\n" + kBinary,
       DowngradeStatus::kConverted,
       {{"application/pdf", "base64", kBinary}},
       {"MIME-Version: 1.0\r\nContent-Type: application/pdf\r\n"},
       ""},
      {"long 8-bit line: soft breaks keep encoded lines within 76, decoding restores it",
       "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + long_line + kLatin +
           long_line + "\r\n",
       DowngradeStatus::kConverted,
       {{"charset=utf-8", "quoted-printable", long_line + kLatin + long_line + "\r\n"}},
       {},
       ""},
      {"long 7-bit line in a part that needs nothing is left alone",
       "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
       "--b\r\nContent-Type: text/plain; x=seven\r\n\r\n" +
           long_line + "\r\n--b\r\nContent-Type: text/plain; x=eight\r\n\r\n" + kLatin +
           "\r\n--b--\r\n",
       DowngradeStatus::kConverted,
       {{"x=eight", "quoted-printable", kLatin}},
       {"x=seven\r\n\r\n" + long_line + "\r\n--b\r\n"},
       ""},
      {"message/rfc822 part: the encapsulated message is converted",
       "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
       "--b\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
       "Subject: inner\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; x=enc\r\n\r\n" +
           kLatin + "\r\n--b--\r\n",
       DowngradeStatus::kConverted,
       {{"x=enc", "quoted-printable", kLatin}},
       {"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: 7bit\r\n\r\nSubject: "
        "inner\r\n"},
       ""},
      {"8-bit header field: not convertible",
       "From: a@x\r\nSubject: " + kLatin + "\r\n\r\nbody\r\n",
       DowngradeStatus::kNotConvertible,
       {},
       {},
       "8-bit bytes in a header section"},
      {"8-bit header field inside a part: not convertible",
       "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
       "--b\r\nContent-Type: text/plain; name=\"" +
           kLatin + "\"\r\n\r\nbody\r\n--b--\r\n",
       DowngradeStatus::kNotConvertible,
       {},
       {},
       "8-bit bytes in a header section"},
      {"8-bit bytes in a part declared quoted-printable: not convertible",
       "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n"
       "Content-Transfer-Encoding: quoted-printable\r\n\r\n" +
           kLatin + "\r\n",
       DowngradeStatus::kNotConvertible,
       {},
       {},
       "declared quoted-printable"},
  };
}

TEST(DowngradeTo7Bit, Table) {
  for (const Case& c : Cases()) {
    const DowngradeResult r = DowngradeTo7Bit(c.in);
    ASSERT_EQ(r.status, c.status) << c.label << ": " << r.error;
    if (c.status == DowngradeStatus::kSevenBit) {
      EXPECT_TRUE(r.data.empty()) << c.label;
      continue;
    }
    if (c.status == DowngradeStatus::kNotConvertible) {
      EXPECT_NE(r.error.find(c.error), std::string::npos) << c.label << ": " << r.error;
      continue;
    }
    EXPECT_FALSE(HasEightBitBytes(r.data)) << c.label;
    EXPECT_TRUE(CrlfLinesWithin(r.data, 998)) << c.label;
    for (const std::string& keep : c.unchanged) {
      EXPECT_NE(r.data.find(keep), std::string::npos) << c.label << ": lost\n" << keep;
    }
    for (const auto& [marker, cte, decoded] : c.parts) {
      const std::size_t at = r.data.find(marker);
      ASSERT_NE(at, std::string::npos) << c.label << ": " << marker;
      const std::size_t header_end = r.data.find("\r\n\r\n", at);
      const std::size_t header_start = r.data.rfind("\r\n\r\n", at);
      const std::size_t from = header_start == std::string::npos ? 0 : header_start;
      const std::string headers = r.data.substr(from, header_end + 2 - from);
      EXPECT_NE(headers.find("Content-Transfer-Encoding: " + cte + "\r\n"), std::string::npos)
          << c.label << ": " << headers;
      EXPECT_EQ(headers.find("Content-Transfer-Encoding: 8bit"), std::string::npos) << c.label;
      EXPECT_EQ(headers.find("Content-Transfer-Encoding: binary"), std::string::npos) << c.label;
      std::string body = PartBody(r.data, marker);
      if (r.data.find("\r\n--", header_end) == std::string::npos) {
        body = r.data.substr(header_end + 4);  // a single-part message: to the end
      }
      if (cte == "quoted-printable") {
        EXPECT_TRUE(CrlfLinesWithin(body, 76)) << c.label;
        EXPECT_EQ(DecodeQp(body), decoded) << c.label;
      } else {
        EXPECT_TRUE(CrlfLinesWithin(body + "\r\n", 76)) << c.label;
        EXPECT_EQ(DecodeBase64(body), decoded) << c.label;
      }
    }
  }
}

TEST(DowngradeTo7Bit, NonMimeMessageGetsMimeVersionOnce) {
  const DowngradeResult r = DowngradeTo7Bit("Subject: s\r\n\r\n" + kLatin + "\r\n");
  ASSERT_EQ(r.status, DowngradeStatus::kConverted);
  EXPECT_EQ(r.data.find("MIME-Version: 1.0\r\n"), r.data.rfind("MIME-Version: 1.0\r\n"));
  EXPECT_NE(r.data.find("MIME-Version: 1.0\r\n"), std::string::npos);
  const DowngradeResult m =
      DowngradeTo7Bit("MIME-Version: 1.0\r\nSubject: s\r\n\r\n" + kLatin + "\r\n");
  EXPECT_EQ(m.data.find("MIME-Version"), m.data.rfind("MIME-Version")) << "not added twice";
}

TEST(DowngradeTo7Bit, QuotedPrintableEncodesTrailingWhitespaceAndEquals) {
  const DowngradeResult r = DowngradeTo7Bit("Subject: s\r\n\r\n\xc3\xa9 a=b \r\nx\t\r\n");
  ASSERT_EQ(r.status, DowngradeStatus::kConverted);
  EXPECT_NE(r.data.find("\r\n\r\n=C3=A9 a=3Db=20\r\nx=09\r\n"), std::string::npos) << r.data;
}

TEST(HasEightBitBytes, AtEveryPositionAndLength) {
  for (std::size_t length = 0; length < 20; ++length) {
    EXPECT_FALSE(HasEightBitBytes(std::string(length, 'a'))) << length;
    for (std::size_t at = 0; at < length; ++at) {
      std::string s(length, 'a');
      s[at] = '\x80';
      EXPECT_TRUE(HasEightBitBytes(s)) << length << " " << at;
    }
  }
}

TEST(DowngradeTo7Bit, DeepNestingIsRefused) {
  std::string m = "MIME-Version: 1.0\r\n";
  for (int i = 0; i <= kMaxMimeDepth + 1; ++i) {
    m += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\r\n\r\n--b" +
         std::to_string(i) + "\r\n";
  }
  m += "\r\n" + kLatin + "\r\n";
  const DowngradeResult r = DowngradeTo7Bit(m);
  EXPECT_EQ(r.status, DowngradeStatus::kNotConvertible);
  EXPECT_NE(r.error.find("nesting"), std::string::npos) << r.error;
}

}  // namespace
}  // namespace outpost::delivery
