// What dkim.cpp and domainkeys.cpp share: ASCII case helpers, base64 and the folding of a
// signature header field. Not part of the library's interface (dkim.hpp, domainkeys.hpp).
//
// Thread-safety: free functions without state; a FieldBuilder belongs to one caller.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

namespace outpost::dkim::internal {

char Lower(char c);
std::string LowerString(std::string_view s);
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
std::string Base64(const unsigned char* data, std::size_t size);

// Folds a signature field (DKIM-Signature:, DomainKey-Signature:): tags separated by "; ", a new
// line (CRLF SP) before a piece that would pass column 78.
class FieldBuilder {
 public:
  explicit FieldBuilder(std::string start) : out_(std::move(start)), column_(out_.size()) {}
  // Appends `piece`, preceded by `sep` on the same line or by a fold.
  void Add(std::string_view piece, std::string_view sep) {
    if (column_ + sep.size() + piece.size() > kWidth && column_ > 1) {
      out_ += "\r\n ";
      column_ = 1;
    } else {
      out_ += sep;
      column_ += sep.size();
    }
    out_ += piece;
    column_ += piece.size();
  }
  // Appends `text` across as many lines as needed (for b= and bh= values, which may be split).
  void AddSplittable(std::string_view text) {
    while (!text.empty()) {
      if (column_ >= kWidth) {
        out_ += "\r\n ";
        column_ = 1;
      }
      std::size_t n = std::min(text.size(), kWidth - column_);
      out_.append(text.data(), n);
      column_ += n;
      text.remove_prefix(n);
    }
  }
  std::string& text() { return out_; }

 private:
  static constexpr std::size_t kWidth = 78;
  std::string out_;
  std::size_t column_;
};

}  // namespace outpost::dkim::internal
