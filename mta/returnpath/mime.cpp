#include "mta/returnpath/mime.hpp"

#include "common/base64.hpp"
#include "common/strings.hpp"

namespace outpost::returnpath {

namespace {

std::string ToLf(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    out.push_back(text[i]);
  }
  return out;
}

// Reads "Name: value" lines with folding until a blank line or the end; returns where it stopped.
std::size_t ReadFields(std::string_view text, std::size_t pos,
                       std::vector<std::pair<std::string, std::string>>& fields) {
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (TrimBlanks(line).empty()) return end + 1;
    if ((line[0] == ' ' || line[0] == '\t') && !fields.empty()) {
      fields.back().second += " " + std::string(TrimBlanks(line));
    } else if (std::size_t colon = line.find(':'); colon != std::string_view::npos) {
      fields.emplace_back(AsciiLowercase(TrimBlanks(line.substr(0, colon))),
                          std::string(TrimBlanks(line.substr(colon + 1))));
    }
    pos = end + 1;
  }
  return text.size();
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = AsciiLower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// The parts between "--boundary" lines of `body`.
std::vector<std::string_view> SplitMultipart(std::string_view body, const std::string& boundary) {
  std::vector<std::string_view> parts;
  const std::string delimiter = "--" + boundary;
  std::size_t start = std::string_view::npos;
  std::size_t pos = 0;
  while (pos <= body.size()) {
    std::size_t end = body.find('\n', pos);
    if (end == std::string_view::npos) end = body.size();
    std::string_view line = body.substr(pos, end - pos);
    if (line.substr(0, delimiter.size()) == delimiter) {
      std::string_view rest = TrimBlanks(line.substr(delimiter.size()));
      if (start != std::string_view::npos) {
        parts.push_back(body.substr(start, pos > start ? pos - start - 1 : 0));
      }
      if (rest == "--") return parts;
      start = end + 1;
    }
    pos = end + 1;
  }
  if (start != std::string_view::npos && start < body.size()) parts.push_back(body.substr(start));
  return parts;
}

void Walk(const Part& part, int depth, std::vector<Part>& out, bool& truncated) {
  if (out.size() >= kMaxParts) {
    truncated = true;
    return;
  }
  const std::string type = part.ContentType();
  const std::string boundary = Param(part.Header("content-type"), "boundary");
  if (type.rfind("multipart/", 0) != 0 || boundary.empty()) {
    out.push_back(part);
    return;
  }
  if (depth >= kMaxDepth) {
    truncated = true;
    return;
  }
  for (std::string_view text : SplitMultipart(part.body, boundary)) {
    Walk(ParsePart(text), depth + 1, out, truncated);
  }
}

}  // namespace

const std::string& Part::Header(std::string_view lower_name) const {
  static const std::string kEmpty;
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value;
  }
  return kEmpty;
}

std::string Part::ContentType() const {
  const std::string& value = Header("content-type");
  if (value.empty()) return "text/plain";
  std::string type = AsciiLowercase(TrimBlanks(std::string_view(value).substr(0, value.find(';'))));
  return type;
}

std::string Part::DecodedBody() const {
  const std::string encoding = AsciiLowercase(Header("content-transfer-encoding"));
  if (encoding == "quoted-printable") return DecodeQuotedPrintable(body);
  if (encoding == "base64") return ToLf(DecodeBase64Lenient(body));
  return body;
}

Part ParsePart(std::string_view text) {
  Part part;
  const std::string lf = ToLf(text);
  const std::size_t body = ReadFields(lf, 0, part.headers);
  if (body < lf.size()) part.body = lf.substr(body);
  return part;
}

std::vector<std::vector<std::pair<std::string, std::string>>> ParseFieldBlocks(
    std::string_view text) {
  std::vector<std::vector<std::pair<std::string, std::string>>> blocks;
  const std::string lf = ToLf(text);
  std::size_t pos = 0;
  while (pos < lf.size()) {
    std::vector<std::pair<std::string, std::string>> fields;
    pos = ReadFields(lf, pos, fields);
    if (!fields.empty()) blocks.push_back(std::move(fields));
  }
  return blocks;
}

std::string Param(std::string_view value, std::string_view lower_name) {
  std::size_t pos = value.find(';');
  while (pos != std::string_view::npos) {
    std::string_view rest = TrimBlanks(value.substr(pos + 1));
    std::size_t eq = rest.find('=');
    if (eq == std::string_view::npos) return "";
    const bool match = AsciiLowercase(TrimBlanks(rest.substr(0, eq))) == lower_name;
    std::string_view v = TrimBlanks(rest.substr(eq + 1));
    std::size_t next = 0;
    std::string out;
    if (!v.empty() && v.front() == '"') {
      std::size_t close = v.find('"', 1);
      out = std::string(v.substr(1, close == std::string_view::npos ? v.size() - 1 : close - 1));
      next = close == std::string_view::npos ? v.size() : v.find(';', close);
    } else {
      next = v.find(';');
      out = std::string(TrimBlanks(v.substr(0, next)));
    }
    if (match) return out;
    if (next == std::string_view::npos || next >= v.size()) return "";
    value = v;
    pos = next;
  }
  return "";
}

std::vector<Part> Leaves(const Part& root, bool* truncated) {
  std::vector<Part> out;
  bool cut = false;
  Walk(root, 0, out, cut);
  if (truncated != nullptr) *truncated = cut;
  return out;
}

std::string DecodeQuotedPrintable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '=') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '\n') {  // soft line break
      ++i;
      continue;
    }
    if (i + 2 < text.size() && text[i + 1] == '\r' && text[i + 2] == '\n') {
      i += 2;
      continue;
    }
    const int hi = i + 1 < text.size() ? HexValue(text[i + 1]) : -1;
    const int lo = i + 2 < text.size() ? HexValue(text[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      out.push_back('=');
      continue;
    }
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

}  // namespace outpost::returnpath
