// The directive tables' shared machinery: where a setter writes (the object of the current
// scope), the generic setters (booleans, durations, rates, sizes, numbers, names, choices) and the
// "expected ..." texts. Included only by the files that hold the tables (directives*.cpp).
//
// Thread-safety: stateless functions.
#pragma once

#include <algorithm>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "mta/config/internal.hpp"

namespace outpost::config::detail {

using Result = std::optional<std::string>;

inline constexpr const char* kExpBool = "expected yes/no, true/false or on/off";
inline constexpr const char* kExpDuration =
    "expected a duration like 30s, 10m, 1h, 4d12h (a bare number is seconds)";
inline constexpr const char* kExpDurationList =
    "expected a duration or a comma-separated list of durations like 10m,20m,1h";
inline constexpr const char* kExpRate = "expected a rate like 800/h, 2/s, 100/10m or 'unlimited'";
inline constexpr const char* kExpSize = "expected a size like 512, 100K, 50M, 1G (powers of 1024)";
inline constexpr const char* kExpInt = "expected a whole number";
inline constexpr const char* kExpShare =
    "expected a percentage like 50% or 12.5%, or a fraction like 0.5";
inline constexpr const char* kExpPath = "expected a path";
inline constexpr const char* kExpName = "expected one name without spaces";
inline constexpr const char* kExpListen =
    "expected ADDR:PORT like 0/0:25, 127.0.0.1:2525 or [::1]:25 (port 0 = any free port)";

// ---- Where a setter writes: the object of the current scope. ----

template <typename Obj>
Obj& Target(ParseContext& c);
template <>
inline Config& Target<Config>(ParseContext& c) {
  return *c.config;
}
template <>
inline SourcePolicy& Target<SourcePolicy>(ParseContext& c) {
  return c.config->sources[c.index];
}
template <>
inline SmtpUser& Target<SmtpUser>(ParseContext& c) {
  return c.config->smtp_users[c.index];
}
template <>
inline VirtualMta& Target<VirtualMta>(ParseContext& c) {
  return c.config->virtual_mtas[c.index];
}
template <>
inline DomainPolicy& Target<DomainPolicy>(ParseContext& c) {
  return c.config->domains[c.index];
}
template <>
inline AcctFile& Target<AcctFile>(ParseContext& c) {
  return c.config->acct_files[c.index];
}

template <typename M>
struct MemberOf;
template <typename C, typename T>
struct MemberOf<T C::*> {
  using Class = C;
  using Type = T;
};
template <typename T>
struct Unwrap {
  using Type = T;
};
template <typename T>
struct Unwrap<std::optional<T>> {
  using Type = T;
};

template <auto F>
auto& Field(ParseContext& c) {
  return Target<typename MemberOf<decltype(F)>::Class>(c).*F;
}
template <auto F>
using ValueOf = typename Unwrap<typename MemberOf<decltype(F)>::Type>::Type;

// ---- Generic setters. ----

// A PowerMTA yes/no of which Outpost does only the `no` side: `no` (false, off) is accepted, since
// it is what Outpost does; `yes` is refused with `why`, so the directive never means what it does
// not do.
inline Result OnlyNo(const std::string& v, const char* why) {
  auto b = ParseBool(v);
  if (!b) return std::string();
  if (*b) return std::string(why);
  return std::nullopt;
}

template <auto F>
Result SetBool(ParseContext& c, const std::string& v) {
  auto b = ParseBool(v);
  if (!b) return std::string();
  Field<F>(c) = *b;
  return std::nullopt;
}

template <auto F, long long MinSeconds = 0>
Result SetDuration(ParseContext& c, const std::string& v) {
  auto d = ParseDuration(v);
  if (!d) return std::string();
  if (d->count() < MinSeconds) return std::string(kExpDuration) + " of at least 1s";
  Field<F>(c) = *d;
  return std::nullopt;
}

// A duration within [MinSeconds, MaxSeconds] (timeouts: zero or days is a mistake).
template <auto F, long long MinSeconds, long long MaxSeconds>
Result SetBoundedDuration(ParseContext& c, const std::string& v) {
  auto d = ParseDuration(v);
  if (!d) return std::string();
  if (d->count() < MinSeconds || d->count() > MaxSeconds) {
    return std::string(kExpDuration) + " from " + std::to_string(MinSeconds) + "s to " +
           std::to_string(MaxSeconds) + "s";
  }
  Field<F>(c) = *d;
  return std::nullopt;
}

template <auto F>
Result SetDurationList(ParseContext& c, const std::string& v) {
  auto d = ParseDurationList(v);
  if (!d) return std::string();
  for (Seconds s : *d) {
    if (s.count() == 0) return std::string(kExpDurationList) + ", each at least 1s";
  }
  Field<F>(c) = *d;
  return std::nullopt;
}

template <auto F>
Result SetRate(ParseContext& c, const std::string& v) {
  auto r = ParseRate(v);
  if (!r) return std::string();
  Field<F>(c) = *r;
  return std::nullopt;
}

template <auto F, bool NonZero = false>
Result SetSize(ParseContext& c, const std::string& v) {
  auto s = ParseSize(v);
  if (!s) return std::string();
  if (NonZero && *s == 0) return std::string(kExpSize) + ", not 0";
  Field<F>(c) = *s;
  return std::nullopt;
}

// SIZE, or `unlimited` (stored as the largest value: no limit).
template <auto F, bool NonZero = true>
Result SetSizeOrUnlimited(ParseContext& c, const std::string& v) {
  if (Lower(Trim(v)) == "unlimited") {
    Field<F>(c) = std::numeric_limits<std::uint64_t>::max();
    return std::nullopt;
  }
  auto s = ParseSize(v);
  if (!s) return std::string();
  if (NonZero && *s == 0) return std::string(kExpSize) + ", not 0 (write unlimited for no limit)";
  Field<F>(c) = *s;
  return std::nullopt;
}

// A size of at least Min bytes.
template <auto F, std::uint64_t Min>
Result SetSizeAtLeast(ParseContext& c, const std::string& v) {
  auto s = ParseSize(v);
  if (!s) return std::string();
  if (*s < Min) return std::string(kExpSize) + ", at least " + std::to_string(Min >> 10) + "K";
  Field<F>(c) = *s;
  return std::nullopt;
}

template <auto F, long long Min, long long Max>
Result SetInt(ParseContext& c, const std::string& v) {
  auto n = ParseUnsigned(Trim(v));
  if (!n || *n < static_cast<unsigned long long>(Min) ||
      *n > static_cast<unsigned long long>(Max)) {
    return "expected a whole number from " + std::to_string(Min) + " to " + std::to_string(Max);
  }
  Field<F>(c) = static_cast<ValueOf<F>>(*n);
  return std::nullopt;
}

// The whole rest of the line, spaces included (passwords).
template <auto F>
Result SetText(ParseContext& c, const std::string& v) {
  Field<F>(c) = v;
  return std::nullopt;
}

template <auto F>
Result SetPath(ParseContext& c, const std::string& v) {
  if (v.find_first_of(" \t") != std::string::npos)
    return std::string("expected a path without spaces");
  Field<F>(c) = c.ResolvePath(v);
  return std::nullopt;
}

inline bool IsToken(const std::string& v) {
  return !v.empty() && v.find_first_of(" \t") == std::string::npos;
}

template <auto F>
Result SetName(ParseContext& c, const std::string& v) {
  if (!IsToken(v)) return std::string();
  Field<F>(c) = Lower(v);
  return std::nullopt;
}

template <auto F>
Result SetHostName(ParseContext& c, const std::string& v) {
  if (!IsHostName(v)) return std::string();
  Field<F>(c) = Lower(v);
  return std::nullopt;
}

// `Choices` is a '|'-separated list of allowed lower-case words.
template <auto F, const char* Choices>
Result SetChoice(ParseContext& c, const std::string& v) {
  std::string word = Lower(v);
  std::string choices = Choices;
  std::size_t start = 0;
  while (start <= choices.size()) {
    std::size_t bar = choices.find('|', start);
    if (bar == std::string::npos) bar = choices.size();
    if (choices.compare(start, bar - start, word) == 0 && !word.empty()) {
      Field<F>(c) = word;
      return std::nullopt;
    }
    start = bar + 1;
  }
  std::string list = choices;
  std::replace(list.begin(), list.end(), '|', ',');
  return "expected one of " + list;
}

// The tables and openers of directives_source.cpp, for the scope list of directives.cpp.
const std::vector<DirectiveSpec>& SourceDirectives();
const std::vector<DirectiveSpec>& SmtpUserDirectives();
const std::vector<DirectiveSpec>& SpoolDirectives();
const std::vector<DirectiveSpec>& PatternListDirectives();
Result OpenPatternList(ParseContext& c, const std::string& arg, std::string* key);
Result OpenSource(ParseContext& c, const std::string& arg, std::string* key);
Result OpenSmtpUser(ParseContext& c, const std::string& arg, std::string* key);
Result OpenSpool(ParseContext& c, const std::string& arg, std::string* key);

// The return path's tables, openers and the global relay-domain (directives_returnpath.cpp).
const std::vector<DirectiveSpec>& ProcessorDirectives();
const std::vector<DirectiveSpec>& AddressListDirectives();
Result SetRelayDomain(ParseContext& c, const std::string& v);
Result OpenBounceProcessor(ParseContext& c, const std::string& arg, std::string* key);
Result OpenFeedbackLoopProcessor(ParseContext& c, const std::string& arg, std::string* key);
Result OpenAddressList(ParseContext& c, const std::string& arg, std::string* key);

// <alert-action NAME> (directives_alerts.cpp).
const std::vector<DirectiveSpec>& AlertActionDirectives();
Result OpenAlertAction(ParseContext& c, const std::string& arg, std::string* key);

}  // namespace outpost::config::detail
