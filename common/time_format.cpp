#include "common/time_format.hpp"

#include <charconv>
#include <cstdio>
#include <ctime>

namespace outpost::timefmt {
namespace {

std::string Format(const std::tm& tm, long offset_seconds, bool rfc5322) {
  char sign = offset_seconds < 0 ? '-' : '+';
  long off = offset_seconds < 0 ? -offset_seconds : offset_seconds;
  char buf[64];
  if (rfc5322) {
    static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::snprintf(buf, sizeof buf, "%s, %d %s %04d %02d:%02d:%02d %c%02ld%02ld", kDays[tm.tm_wday],
                  tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                  tm.tm_sec, sign, off / 3600, (off % 3600) / 60);
  } else {
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d%c%02ld%02ld", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, sign, off / 3600,
                  (off % 3600) / 60);
  }
  return buf;
}

bool ParseInt(std::string_view s, int& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::string FormatAcctTime(std::int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  localtime_r(&t, &tm);
  return Format(tm, tm.tm_gmtoff, false);
}

std::string FormatAcctTimeUtc(std::int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return Format(tm, 0, false);
}

std::string FormatRfc5322Date(std::int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  localtime_r(&t, &tm);
  return Format(tm, tm.tm_gmtoff, true);
}

std::optional<std::int64_t> ParseAcctTime(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (text.find('-') == std::string_view::npos || text.size() < 19) {
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || p != text.data() + text.size()) return std::nullopt;
    return v;
  }
  // YYYY-MM-DD HH:MM:SS[±zzzz]
  if (text[4] != '-' || text[7] != '-' || (text[10] != ' ' && text[10] != 'T') || text[13] != ':' ||
      text[16] != ':') {
    return std::nullopt;
  }
  std::tm tm{};
  int year, mon, day, hour, min, sec;
  if (!ParseInt(text.substr(0, 4), year) || !ParseInt(text.substr(5, 2), mon) ||
      !ParseInt(text.substr(8, 2), day) || !ParseInt(text.substr(11, 2), hour) ||
      !ParseInt(text.substr(14, 2), min) || !ParseInt(text.substr(17, 2), sec)) {
    return std::nullopt;
  }
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) {
    return std::nullopt;
  }
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  std::int64_t t = static_cast<std::int64_t>(timegm(&tm));
  std::string_view rest = text.substr(19);
  if (rest.empty() || rest == "Z") return t;
  if (rest.size() != 5 || (rest[0] != '+' && rest[0] != '-')) return std::nullopt;
  int hh, mm;
  if (!ParseInt(rest.substr(1, 2), hh) || !ParseInt(rest.substr(3, 2), mm)) return std::nullopt;
  std::int64_t offset = hh * 3600 + mm * 60;
  return rest[0] == '+' ? t - offset : t + offset;
}

}  // namespace outpost::timefmt
