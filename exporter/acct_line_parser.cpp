#include "exporter/acct_line_parser.hpp"

#include <charconv>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "common/csv.hpp"
#include "common/time_format.hpp"

namespace outpost::exporter {
namespace {

// Bytes that end an unquoted run: delimiter, line ends, and a stray quote (malformed).
struct SpecialTable {
  std::array<bool, 256> v{};
  constexpr SpecialTable() {
    v[static_cast<unsigned char>(',')] = true;
    v[static_cast<unsigned char>('\r')] = true;
    v[static_cast<unsigned char>('\n')] = true;
    v[static_cast<unsigned char>('"')] = true;
  }
};
constexpr SpecialTable kSpecial;

// First byte in [p, end) that ends an unquoted run (see kSpecial), or `end`. SSE2 checks 16 bytes
// per step: most fields end within one or two steps.
inline const char* FindSpecial(const char* p, const char* end) {
#if defined(__SSE2__)
  const __m128i comma = _mm_set1_epi8(',');
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i cr = _mm_set1_epi8('\r');
  const __m128i lf = _mm_set1_epi8('\n');
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, comma), _mm_cmpeq_epi8(v, quote)),
                                   _mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf)));
    const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(m));
    if (mask != 0) return p + __builtin_ctz(mask);
    p += 16;
  }
#endif
  while (p < end && !kSpecial.v[static_cast<unsigned char>(*p)]) ++p;
  return p;
}

// acct::ParseRecordType without string compares (one or two bytes).
inline std::optional<acct::RecordType> RecordTypeOf(std::string_view code) {
  if (code.size() == 1) {
    switch (code[0]) {
      case 'd':
        return acct::RecordType::kDelivered;
      case 'b':
        return acct::RecordType::kBounced;
      case 't':
        return acct::RecordType::kTransient;
      case 'r':
        return acct::RecordType::kReceived;
      case 'f':
        return acct::RecordType::kFeedback;
      default:
        return std::nullopt;
    }
  }
  return acct::ParseRecordType(code);
}

std::optional<AcctColumn> ColumnFor(std::string_view name) {
  if (name == "type") return AcctColumn::kType;
  if (name == "timeLogged") return AcctColumn::kTimeLogged;
  if (name == "timeQueued") return AcctColumn::kTimeQueued;
  if (name == "rcpt") return AcctColumn::kRcpt;
  if (name == "bounceCat") return AcctColumn::kBounceCat;
  if (name == "dlvSourceIp") return AcctColumn::kSourceIp;
  if (name == "dlvSize") return AcctColumn::kSize;
  if (name == "vmta") return AcctColumn::kVmta;
  if (name == "queue") return AcctColumn::kQueue;
  if (name == "feedbackType") return AcctColumn::kFeedbackType;
  return std::nullopt;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t DaysFromCivil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<std::int64_t>(era) * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

inline bool Digits(const char* p, int n, int& out) {
  int v = 0;
  for (int i = 0; i < n; ++i) {
    unsigned d = static_cast<unsigned>(static_cast<unsigned char>(p[i]) - '0');
    if (d > 9) return false;
    v = v * 10 + static_cast<int>(d);
  }
  out = v;
  return true;
}

// Index past the line end starting at `p` (CRLF, LF, or a lone CR), nullptr if CR is last.
inline const char* SkipLineEnd(const char* p, const char* end) {
  if (*p == '\n') return p + 1;
  if (p + 1 >= end) return nullptr;
  return p[1] == '\n' ? p + 2 : p + 1;
}

// Malformed record: consume through the next line end (quotes ignored), like csv::SplitRecord.
ParseResult SkipMalformed(const char* begin, const char* p, const char* end) {
  for (; p < end; ++p) {
    if (*p == '\n' || *p == '\r') {
      const char* next = SkipLineEnd(p, end);
      if (next == nullptr) break;
      return {LineKind::kMalformed, static_cast<std::size_t>(next - begin)};
    }
  }
  if (static_cast<std::size_t>(end - begin) > AcctLineParser::kMaxRecordBytes) {
    return {LineKind::kMalformed, static_cast<std::size_t>(end - begin)};
  }
  return {LineKind::kIncomplete, 0};
}

bool ParseInt64(std::string_view s, std::int64_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::optional<std::int64_t> ParseAcctTimeFast(std::string_view s) {
  if (s.size() == 24 && s[4] == '-' && s[7] == '-' && s[10] == ' ' && s[13] == ':' &&
      s[16] == ':' && (s[19] == '+' || s[19] == '-')) {
    int year, mon, day, hour, min, sec, oh, om;
    const char* p = s.data();
    if (Digits(p, 4, year) && Digits(p + 5, 2, mon) && Digits(p + 8, 2, day) &&
        Digits(p + 11, 2, hour) && Digits(p + 14, 2, min) && Digits(p + 17, 2, sec) &&
        Digits(p + 20, 2, oh) && Digits(p + 22, 2, om) && mon >= 1 && mon <= 12 && day >= 1 &&
        day <= 31 && hour <= 23 && min <= 59 && sec <= 60) {
      std::int64_t t =
          DaysFromCivil(year, static_cast<unsigned>(mon), static_cast<unsigned>(day)) * 86400 +
          hour * 3600 + min * 60 + sec;
      std::int64_t off = oh * 3600 + om * 60;
      return s[19] == '+' ? t - off : t + off;
    }
    return std::nullopt;
  }
  if (!s.empty() && s.size() <= 12 &&
      static_cast<unsigned>(static_cast<unsigned char>(s[0]) - '0') <= 9u) {
    std::int64_t v = 0;
    if (ParseInt64(s, v)) return v;
  }
  return timefmt::ParseAcctTime(s);
}

std::string_view RecipientDomain(std::string_view rcpt) {
  std::size_t at = rcpt.rfind('@');
  if (at == std::string_view::npos) return {};
  std::string_view d = rcpt.substr(at + 1);
  if (!d.empty() && d.back() == '>') d.remove_suffix(1);
  return d;
}

std::string_view QueueDomain(std::string_view queue) {
  std::size_t slash = queue.find('/');
  return slash == std::string_view::npos ? queue : queue.substr(0, slash);
}

AcctLineParser::AcctLineParser() { ResetToDefaultHeader(); }

// ParseAcctTimeFast with the date part cached: consecutive records almost always share the day.
bool AcctLineParser::ParseTime(std::string_view s, std::int64_t& out) {
  if (s.size() == 24 && s[4] == '-' && s[7] == '-' && s[10] == ' ' && s[13] == ':' &&
      s[16] == ':' && (s[19] == '+' || s[19] == '-')) {
    const char* p = s.data();
    if (!date_valid_ || std::memcmp(p, date_key_.data(), date_key_.size()) != 0) {
      int year, mon, day;
      if (!Digits(p, 4, year) || !Digits(p + 5, 2, mon) || !Digits(p + 8, 2, day) || mon < 1 ||
          mon > 12 || day < 1 || day > 31) {
        return false;
      }
      std::memcpy(date_key_.data(), p, date_key_.size());
      date_days_ = DaysFromCivil(year, static_cast<unsigned>(mon), static_cast<unsigned>(day));
      date_valid_ = true;
    }
    int hour, min, sec, oh, om;
    if (!Digits(p + 11, 2, hour) || !Digits(p + 14, 2, min) || !Digits(p + 17, 2, sec) ||
        !Digits(p + 20, 2, oh) || !Digits(p + 22, 2, om) || hour > 23 || min > 59 || sec > 60) {
      return false;
    }
    const std::int64_t t = date_days_ * 86400 + hour * 3600 + min * 60 + sec;
    const std::int64_t off = oh * 3600 + om * 60;
    out = s[19] == '+' ? t - off : t + off;
    return true;
  }
  std::optional<std::int64_t> t = ParseAcctTimeFast(s);
  if (!t) return false;
  out = *t;
  return true;
}

void AcctLineParser::ResetToDefaultHeader() {
  // PowerMTA's default header: Outpost's without the feedbackType column it adds at the end (a
  // file without a header line is not Outpost's, which always writes one).
  std::vector<std::string> names;
  for (std::size_t i = 0; i < static_cast<std::size_t>(acct::Field::kFeedbackType); ++i) {
    names.emplace_back(acct::FieldName(static_cast<acct::Field>(i)));
  }
  SetHeader(names);
}

bool AcctLineParser::SetHeader(const std::vector<std::string>& names) {
  if (names.empty() || names[0] != "type") return false;
  map_.assign(names.size(), AcctColumn::kCount);
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (auto c = ColumnFor(names[i])) map_[i] = *c;
  }
  column_count_ = names.size();
  return true;
}

ParseResult AcctLineParser::Parse(std::string_view data, ParsedRecord& out) {
  const char* const begin = data.data();
  const char* const end = begin + data.size();
  const char* p = begin;
  std::array<std::string_view, kAcctColumnCount> vals{};
  std::size_t col = 0;
  for (;;) {
    const char* vstart;
    const char* vend;
    bool unquote = false;
    if (p < end && *p == '"') {
      // Quoted field: up to the closing quote ("" is a literal quote), then lenient trailing text.
      ++p;
      vstart = p;
      for (;;) {
        const char* q = static_cast<const char*>(std::memchr(p, '"', end - p));
        if (q == nullptr || q + 1 >= end) return SkipMalformed(begin, end, end);
        if (q[1] == '"') {
          unquote = true;
          p = q + 2;
          continue;
        }
        vend = q;
        p = q + 1;
        break;
      }
      while (p < end && *p != ',' && *p != '\r' && *p != '\n') ++p;
      if (p >= end) return SkipMalformed(begin, end, end);
      if (p != vend + 1) unquote = true;
    } else {
      vstart = p;
      p = FindSpecial(p, end);
      if (p >= end) return SkipMalformed(begin, end, end);
      if (*p == '"') return SkipMalformed(begin, p, end);
      vend = p;
    }
    AcctColumn which = col < map_.size() ? map_[col] : AcctColumn::kCount;
    if (which != AcctColumn::kCount) {
      std::size_t slot = static_cast<std::size_t>(which);
      if (!unquote) {
        vals[slot] = std::string_view(vstart, static_cast<std::size_t>(vend - vstart));
      } else {
        // Rebuild the value: drop the closing quote, undouble quotes, keep trailing text.
        std::string& s = scratch_[slot];
        s.clear();
        for (const char* c = vstart; c < p; ++c) {
          if (*c == '"') {
            if (c + 1 < p && c[1] == '"') {
              s += '"';
              ++c;
            }
            continue;
          }
          s += *c;
        }
        vals[slot] = s;
      }
    }
    ++col;
    if (*p == ',') {
      ++p;
      continue;
    }
    const char* next = SkipLineEnd(p, end);
    if (next == nullptr) return SkipMalformed(begin, end, end);
    p = next;
    break;
  }
  const std::size_t consumed = static_cast<std::size_t>(p - begin);
  std::string_view type = vals[static_cast<std::size_t>(AcctColumn::kType)];
  if (type == "type") {
    header_fields_.clear();
    csv::SplitResult r = csv::SplitRecord(data.substr(0, consumed), header_fields_);
    if (r.status == csv::SplitStatus::kRecord && SetHeader(header_fields_)) {
      return {LineKind::kHeader, consumed};
    }
    return {LineKind::kMalformed, consumed};
  }
  if (col != column_count_) return {LineKind::kMalformed, consumed};
  std::optional<acct::RecordType> rt = RecordTypeOf(type);
  if (!rt) return {LineKind::kUnknownType, consumed};
  out.type = *rt;
  auto time_of = [&](AcctColumn c, std::int64_t& dst) {
    std::string_view v = vals[static_cast<std::size_t>(c)];
    if (v.empty()) {
      dst = -1;
      return true;
    }
    return ParseTime(v, dst);
  };
  if (!time_of(AcctColumn::kTimeLogged, out.time_logged) ||
      !time_of(AcctColumn::kTimeQueued, out.time_queued)) {
    return {LineKind::kMalformed, consumed};
  }
  std::string_view size = vals[static_cast<std::size_t>(AcctColumn::kSize)];
  out.size = -1;
  if (!size.empty() && !ParseInt64(size, out.size)) return {LineKind::kMalformed, consumed};
  out.rcpt = vals[static_cast<std::size_t>(AcctColumn::kRcpt)];
  out.bounce_cat = vals[static_cast<std::size_t>(AcctColumn::kBounceCat)];
  out.source_ip = vals[static_cast<std::size_t>(AcctColumn::kSourceIp)];
  out.vmta = vals[static_cast<std::size_t>(AcctColumn::kVmta)];
  out.queue = vals[static_cast<std::size_t>(AcctColumn::kQueue)];
  out.feedback_type = vals[static_cast<std::size_t>(AcctColumn::kFeedbackType)];
  return {LineKind::kRecord, consumed};
}

}  // namespace outpost::exporter
