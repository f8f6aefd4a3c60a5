#include "mta/delivery/mime_downgrade.hpp"

#include <cstdint>
#include <cstring>
#include <vector>

namespace outpost::delivery {
namespace {

constexpr std::string_view kCrlf = "\r\n";
constexpr std::size_t kMaxEncodedLine = 76;

bool IsWsp(char c) { return c == ' ' || c == '\t'; }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (IsWsp(s.front()) || s.front() == '\r' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (IsWsp(s.back()) || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// An entity: its header section (every field with its CRLF, without the empty line) and body.
struct Entity {
  std::string_view headers;
  std::string_view body;
};

Entity SplitEntity(std::string_view entity) {
  if (entity.substr(0, 2) == kCrlf) return {std::string_view(), entity.substr(2)};
  const std::size_t end = entity.find("\r\n\r\n");
  if (end == std::string_view::npos) return {entity, std::string_view()};
  return {entity.substr(0, end + 2), entity.substr(end + 4)};
}

// One header field, continuation lines included, with its final CRLF.
struct Field {
  std::string name;  // lower case
  std::string_view raw;
  std::string Value() const {
    const std::size_t colon = raw.find(':');
    std::string unfolded;
    for (char c : raw.substr(colon + 1)) {
      if (c != '\r' && c != '\n') unfolded += c;
    }
    return std::string(Trim(unfolded));
  }
};

std::vector<Field> ParseFields(std::string_view headers) {
  std::vector<Field> fields;
  std::size_t pos = 0;
  while (pos < headers.size()) {
    std::size_t end = headers.find(kCrlf, pos);
    end = end == std::string_view::npos ? headers.size() : end + 2;
    const std::string_view line = headers.substr(pos, end - pos);
    if (IsWsp(line.front()) && !fields.empty()) {
      Field& last = fields.back();
      last.raw = std::string_view(last.raw.data(), last.raw.size() + line.size());
    } else {
      const std::size_t colon = line.find(':');
      fields.push_back(
          Field{Lower(Trim(line.substr(0, colon == std::string_view::npos ? 0 : colon))), line});
      if (colon == std::string_view::npos) fields.back().name.clear();
    }
    pos = end;
  }
  return fields;
}

const Field* FindField(const std::vector<Field>& fields, std::string_view name) {
  for (const Field& f : fields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

struct ContentType {
  std::string type;  // "text/plain", lower case
  std::string boundary;
};

// "multipart/mixed; boundary="b1"; charset=x" -> type and boundary. Comments are not handled.
ContentType ParseContentType(std::string_view value) {
  ContentType ct;
  std::vector<std::string> parts;
  std::string current;
  bool quoted = false;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (quoted && c == '\\' && i + 1 < value.size()) {
      current += value[++i];
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ';' && !quoted) {
      parts.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  parts.push_back(current);
  ct.type = Lower(Trim(parts.front()));
  for (std::size_t i = 1; i < parts.size(); ++i) {
    const std::string_view p = Trim(parts[i]);
    const std::size_t eq = p.find('=');
    if (eq == std::string_view::npos) continue;
    if (Lower(Trim(p.substr(0, eq))) == "boundary")
      ct.boundary = std::string(Trim(p.substr(eq + 1)));
  }
  return ct;
}

void AppendQuotedPrintableLine(std::string_view line, std::string& out) {
  static const char kHex[] = "0123456789ABCDEF";
  std::size_t column = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(line[i]);
    const bool last = i + 1 == line.size();
    char token[3];
    std::size_t length = 1;
    if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !last)) {
      token[0] = static_cast<char>(c);
    } else {
      token[0] = '=';
      token[1] = kHex[c >> 4];
      token[2] = kHex[c & 15];
      length = 3;
    }
    // Room for the '=' of a soft break: encoded lines stay within 76 characters.
    if (column + length > kMaxEncodedLine - 1) {
      out += "=\r\n";
      column = 0;
    }
    out.append(token, length);
    column += length;
  }
}

// Lines (separated by CRLF) stay lines; a bare CR or LF is encoded.
std::string QuotedPrintable(std::string_view body) {
  std::string out;
  out.reserve(body.size() + body.size() / 4 + 16);
  std::size_t pos = 0;
  while (true) {
    const std::size_t end = body.find(kCrlf, pos);
    AppendQuotedPrintableLine(body.substr(pos, end == std::string_view::npos ? end : end - pos),
                              out);
    if (end == std::string_view::npos) break;
    out += kCrlf;
    pos = end + 2;
  }
  return out;
}

std::string Base64(std::string_view body) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve(body.size() * 4 / 3 + body.size() / 38 + 8);
  std::size_t column = 0;
  for (std::size_t i = 0; i < body.size(); i += 3) {
    const std::size_t n = std::min<std::size_t>(3, body.size() - i);
    std::uint32_t v = static_cast<unsigned char>(body[i]) << 16;
    if (n > 1) v |= static_cast<unsigned char>(body[i + 1]) << 8;
    if (n > 2) v |= static_cast<unsigned char>(body[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += n > 1 ? kAlphabet[(v >> 6) & 63] : '=';
    out += n > 2 ? kAlphabet[v & 63] : '=';
    column += 4;
    if (column >= kMaxEncodedLine && i + 3 < body.size()) {
      out += kCrlf;
      column = 0;
    }
  }
  out += kCrlf;
  return out;
}

// Copies text MIME readers never show (a preamble or epilogue) with 8-bit bytes as '?'.
void AppendMasked(std::string_view text, std::string& out) {
  for (char c : text) out += static_cast<unsigned char>(c) >= 0x80 ? '?' : c;
}

// Writes `fields`, with Content-Transfer-Encoding set to `cte` (replaced, or added last when
// `add_cte`), and "MIME-Version: 1.0" added when `add_mime_version`; then the empty line.
void AppendHeaders(const std::vector<Field>& fields, std::string_view cte, bool add_cte,
                   bool add_mime_version, std::string& out) {
  bool written = false;
  for (const Field& f : fields) {
    if (f.name == "content-transfer-encoding") {
      if (!written) out.append("Content-Transfer-Encoding: ").append(cte).append(kCrlf);
      written = true;
      continue;
    }
    out.append(f.raw);
    if (f.raw.size() < 2 || f.raw.substr(f.raw.size() - 2) != kCrlf) out.append(kCrlf);
  }
  if (add_mime_version) out.append("MIME-Version: 1.0\r\n");
  if (!written && add_cte) out.append("Content-Transfer-Encoding: ").append(cte).append(kCrlf);
  out.append(kCrlf);
}

bool ConvertEntity(std::string_view entity, std::string_view default_type, int depth, bool top,
                   std::string& out, std::string& error);

// A delimiter line "--boundary" or "--boundary--", optionally followed by white space.
// Returns 0 (not one), 1 (delimiter) or 2 (close delimiter).
int DelimiterKind(std::string_view line, std::string_view boundary) {
  if (line.size() < boundary.size() + 2 || line.substr(0, 2) != "--" ||
      line.substr(2, boundary.size()) != boundary) {
    return 0;
  }
  std::string_view rest = line.substr(boundary.size() + 2);
  int kind = 1;
  if (rest.substr(0, 2) == "--") {
    kind = 2;
    rest.remove_prefix(2);
  }
  for (char c : rest) {
    if (!IsWsp(c)) return 0;
  }
  return kind;
}

bool ConvertMultipart(std::string_view body, std::string_view boundary,
                      std::string_view child_default, int depth, std::string& out,
                      std::string& error) {
  // Delimiter lines: [start, end) with end after the CRLF (or at the end of the body).
  struct Delimiter {
    std::size_t start, end;
    bool close;
  };
  std::vector<Delimiter> delimiters;
  for (std::size_t pos = 0; pos < body.size();) {
    std::size_t eol = body.find(kCrlf, pos);
    const std::size_t line_end = eol == std::string_view::npos ? body.size() : eol;
    const std::size_t next = eol == std::string_view::npos ? body.size() : eol + 2;
    const int kind = DelimiterKind(body.substr(pos, line_end - pos), boundary);
    if (kind != 0) {
      delimiters.push_back({pos, next, kind == 2});
      if (kind == 2) break;
    }
    pos = next;
  }
  if (delimiters.empty()) {
    error = "a multipart body without its boundary";
    return false;
  }
  AppendMasked(body.substr(0, delimiters.front().start), out);
  for (std::size_t i = 0; i < delimiters.size(); ++i) {
    const Delimiter& d = delimiters[i];
    out.append(body.substr(d.start, d.end - d.start));
    if (d.close) break;
    // The part runs to the next delimiter, whose preceding CRLF belongs to it (RFC 2046).
    const std::size_t part_end = i + 1 < delimiters.size() ? delimiters[i + 1].start : body.size();
    std::string_view part = body.substr(d.end, part_end - d.end);
    const bool crlf_before_next =
        i + 1 < delimiters.size() && part.size() >= 2 && part.substr(part.size() - 2) == kCrlf;
    if (crlf_before_next) part.remove_suffix(2);
    if (!ConvertEntity(part, child_default, depth + 1, false, out, error)) return false;
    if (crlf_before_next) out.append(kCrlf);
  }
  if (delimiters.back().close) AppendMasked(body.substr(delimiters.back().end), out);
  return true;
}

bool ConvertEntity(std::string_view entity, std::string_view default_type, int depth, bool top,
                   std::string& out, std::string& error) {
  if (depth > kMaxMimeDepth) {
    error = "MIME nesting deeper than " + std::to_string(kMaxMimeDepth) + " levels";
    return false;
  }
  const Entity e = SplitEntity(entity);
  if (HasEightBitBytes(e.headers)) {
    error = "8-bit bytes in a header section (not convertible to 7-bit)";
    return false;
  }
  if (!HasEightBitBytes(e.body)) {
    out.append(entity);
    return true;
  }
  const std::vector<Field> fields = ParseFields(e.headers);
  const bool mime = !top || FindField(fields, "mime-version") != nullptr;
  ContentType ct{std::string(default_type), ""};
  if (mime) {
    if (const Field* f = FindField(fields, "content-type")) {
      ContentType parsed = ParseContentType(f->Value());
      if (parsed.type.find('/') != std::string::npos) ct = std::move(parsed);
    }
  }
  std::string cte = "7bit";
  if (const Field* f = FindField(fields, "content-transfer-encoding")) cte = Lower(f->Value());

  if (ct.type.rfind("multipart/", 0) == 0 && !ct.boundary.empty()) {
    AppendHeaders(fields, "7bit", false, false, out);
    return ConvertMultipart(e.body, ct.boundary,
                            ct.type == "multipart/digest" ? "message/rfc822" : "text/plain", depth,
                            out, error);
  }
  if (cte == "base64" || cte == "quoted-printable") {
    error = "8-bit bytes in a part declared " + cte;
    return false;
  }
  if (ct.type == "message/rfc822" || ct.type == "message/global") {
    AppendHeaders(fields, "7bit", false, false, out);
    return ConvertEntity(e.body, "text/plain", depth + 1, true, out, error);
  }
  const bool text = ct.type.rfind("text/", 0) == 0;
  AppendHeaders(fields, text ? "quoted-printable" : "base64", true, top && !mime, out);
  out.append(text ? QuotedPrintable(e.body) : Base64(e.body));
  return true;
}

}  // namespace

bool HasEightBitBytes(std::string_view data) {
  // Eight bytes at a time: this scan runs on every outbound transaction.
  constexpr std::uint64_t kHighBits = 0x8080808080808080ull;
  std::size_t i = 0;
  for (; i + 8 <= data.size(); i += 8) {
    std::uint64_t word;
    std::memcpy(&word, data.data() + i, sizeof word);
    if ((word & kHighBits) != 0) return true;
  }
  for (; i < data.size(); ++i) {
    if (static_cast<unsigned char>(data[i]) >= 0x80) return true;
  }
  return false;
}

DowngradeResult DowngradeTo7Bit(std::string_view message) {
  DowngradeResult result;
  if (!HasEightBitBytes(message)) return result;
  result.data.reserve(message.size() + message.size() / 3 + 256);
  if (!ConvertEntity(message, "text/plain", 0, true, result.data, result.error)) {
    result.status = DowngradeStatus::kNotConvertible;
    result.data.clear();
    return result;
  }
  result.status = DowngradeStatus::kConverted;
  return result;
}

}  // namespace outpost::delivery
