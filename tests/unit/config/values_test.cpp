// Value parsers: durations, duration lists, rates, sizes, booleans, listen addresses.
#include <gtest/gtest.h>

#include <limits>

#include "mta/config/config.hpp"

namespace outpost::config {
namespace {

struct DurationCase {
  const char* label;
  const char* text;
  std::optional<long long> seconds;  // nullopt: must be rejected
};

class DurationTest : public ::testing::TestWithParam<DurationCase> {};

TEST_P(DurationTest, Parses) {
  const DurationCase& c = GetParam();
  auto d = ParseDuration(c.text);
  if (!c.seconds) {
    EXPECT_FALSE(d) << c.label << " parsed as " << d->count();
  } else {
    ASSERT_TRUE(d) << c.label;
    EXPECT_EQ(d->count(), *c.seconds) << c.label;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, DurationTest,
    ::testing::Values(
        DurationCase{"seconds", "30s", 30}, DurationCase{"minutes", "10m", 600},
        DurationCase{"hours", "1h", 3600}, DurationCase{"days", "7d", 604800},
        DurationCase{"weeks", "1w", 604800},
        DurationCase{"compound", "4d12h", 4 * 86400 + 12 * 3600},
        DurationCase{"compound3", "1h30m15s", 5415}, DurationCase{"bare_seconds", "90", 90},
        DurationCase{"zero", "0", 0}, DurationCase{"upper_unit", "2H", 7200},
        DurationCase{"spaces_trimmed", " 5m ", 300}, DurationCase{"empty", "", std::nullopt},
        DurationCase{"unit_only", "m", std::nullopt}, DurationCase{"bad_unit", "10x", std::nullopt},
        DurationCase{"negative", "-5s", std::nullopt},
        DurationCase{"trailing_bare", "1h30", std::nullopt},
        DurationCase{"ascending_units", "12h4d", std::nullopt},
        DurationCase{"repeated_unit", "1h1h", std::nullopt},
        DurationCase{"inner_space", "1h 30m", std::nullopt},
        DurationCase{"never_is_not_a_duration", "never", std::nullopt},
        DurationCase{"overflow_digits", "99999999999999999999999s", std::nullopt},
        DurationCase{"overflow_multiply", "9223372036854775807d", std::nullopt},
        DurationCase{"max_seconds", "9223372036854775807", std::numeric_limits<long long>::max()}),
    [](const auto& info) { return std::string(info.param.label); });

TEST(DurationList, ParsesListsAndRejectsBadItems) {
  auto l = ParseDurationList("10m,20m, 1h");
  ASSERT_TRUE(l);
  EXPECT_EQ(*l, (std::vector<Seconds>{Seconds(600), Seconds(1200), Seconds(3600)}));
  auto one = ParseDurationList("15m");
  ASSERT_TRUE(one);
  EXPECT_EQ(*one, std::vector<Seconds>{Seconds(900)});
  EXPECT_FALSE(ParseDurationList("10m,,1h"));
  EXPECT_FALSE(ParseDurationList("10m,soon"));
  EXPECT_FALSE(ParseDurationList(""));
}

struct RateCase {
  const char* label;
  const char* text;
  bool ok;
  std::uint64_t count;
  long long per;
};

class RateTest : public ::testing::TestWithParam<RateCase> {};

TEST_P(RateTest, Parses) {
  const RateCase& c = GetParam();
  auto r = ParseRate(c.text);
  ASSERT_EQ(r.has_value(), c.ok) << c.label;
  if (!c.ok) return;
  EXPECT_EQ(r->count, c.count) << c.label;
  EXPECT_EQ(r->per.count(), c.per) << c.label;
}

INSTANTIATE_TEST_SUITE_P(
    Table, RateTest,
    ::testing::Values(
        RateCase{"per_hour", "800/h", true, 800, 3600}, RateCase{"per_second", "2/s", true, 2, 1},
        RateCase{"per_minute", "60/m", true, 60, 60},
        RateCase{"per_day", "10000/d", true, 10000, 86400},
        // PowerMTA's unit words.
        RateCase{"per_day_word", "400/day", true, 400, 86400},
        RateCase{"per_hr", "5/hr", true, 5, 3600},
        RateCase{"per_10min", "100/10min", true, 100, 600},
        RateCase{"per_sec", "3/sec", true, 3, 1}, RateCase{"bad_word", "3/secs", false, 0, 0},
        RateCase{"per_10m", "100/10m", true, 100, 600},
        RateCase{"per_1h30m", "5/1h30m", true, 5, 5400},
        RateCase{"unlimited", "unlimited", true, 0, 1},
        RateCase{"unlimited_upper", "Unlimited", true, 0, 1},
        RateCase{"no_slash", "800", false, 0, 0}, RateCase{"zero_count", "0/h", false, 0, 0},
        RateCase{"bare_number_per", "5/10", false, 0, 0}, RateCase{"bad_unit", "5/x", false, 0, 0},
        RateCase{"zero_per", "5/0s", false, 0, 0}, RateCase{"empty_count", "/h", false, 0, 0},
        RateCase{"negative", "-1/h", false, 0, 0},
        RateCase{"overflow", "99999999999999999999999/h", false, 0, 0}),
    [](const auto& info) { return std::string(info.param.label); });

TEST(Rate, UnlimitedMeansCountZero) {
  EXPECT_TRUE(ParseRate("unlimited")->unlimited());
  EXPECT_FALSE(ParseRate("1/s")->unlimited());
}

struct SizeCase {
  const char* label;
  const char* text;
  std::optional<std::uint64_t> bytes;
};

class SizeTest : public ::testing::TestWithParam<SizeCase> {};

TEST_P(SizeTest, Parses) {
  const SizeCase& c = GetParam();
  auto s = ParseSize(c.text);
  ASSERT_EQ(s.has_value(), c.bytes.has_value()) << c.label;
  if (c.bytes) {
    EXPECT_EQ(*s, *c.bytes) << c.label;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, SizeTest,
    ::testing::Values(
        SizeCase{"bytes", "512", 512}, SizeCase{"bytes_b", "512B", 512},
        SizeCase{"kilo", "100K", 100 * 1024}, SizeCase{"kilo_kb", "100KB", 100 * 1024},
        SizeCase{"mega", "50M", 50ull << 20}, SizeCase{"mega_lower", "50mb", 50ull << 20},
        SizeCase{"giga", "1G", 1ull << 30}, SizeCase{"giga_gb", "2GB", 2ull << 30},
        SizeCase{"zero", "0", 0}, SizeCase{"empty", "", std::nullopt},
        SizeCase{"bad_suffix", "10T", std::nullopt}, SizeCase{"suffix_only", "M", std::nullopt},
        SizeCase{"fraction", "1.5M", std::nullopt}, SizeCase{"negative", "-1", std::nullopt},
        SizeCase{"overflow_shift", "17179869184G", std::nullopt},
        SizeCase{"max_bytes", "18446744073709551615", 18446744073709551615ull},
        SizeCase{"overflow_digits", "18446744073709551616", std::nullopt}),
    [](const auto& info) { return std::string(info.param.label); });

struct ShareCase {
  const char* label;
  const char* text;
  std::optional<double> share;
};

class ShareTest : public ::testing::TestWithParam<ShareCase> {};

TEST_P(ShareTest, Parses) {
  const ShareCase& c = GetParam();
  auto s = ParseShare(c.text);
  ASSERT_EQ(s.has_value(), c.share.has_value()) << c.label;
  if (c.share) {
    EXPECT_DOUBLE_EQ(*s, *c.share) << c.label;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, ShareTest,
    ::testing::Values(
        ShareCase{"percent", "50%", 0.5}, ShareCase{"fraction", "0.5", 0.5},
        ShareCase{"percent_decimal", "12.5%", 0.125}, ShareCase{"zero", "0", 0.0},
        ShareCase{"zero_percent", "0%", 0.0}, ShareCase{"hundred", "100%", 1.0},
        ShareCase{"space_before_percent", "25 %", 0.25}, ShareCase{"spaces", " 0.25 ", 0.25},
        ShareCase{"bare_whole_is_fraction", "50", 50.0}, ShareCase{"empty", "", std::nullopt},
        ShareCase{"percent_only", "%", std::nullopt}, ShareCase{"negative", "-5%", std::nullopt},
        ShareCase{"leading_point", ".5", std::nullopt},
        ShareCase{"trailing_point", "5.%", std::nullopt},
        ShareCase{"two_points", "1.2.3", std::nullopt},
        ShareCase{"two_percents", "50%%", std::nullopt}, ShareCase{"word", "half", std::nullopt},
        ShareCase{"too_many_digits", "0.1234567890123456", std::nullopt}),
    [](const auto& info) { return std::string(info.param.label); });

// 90% and 0.9 are the same double, so a bound check treats both spellings alike.
TEST(Share, PercentAndFractionSpellingsAgreeExactly) {
  EXPECT_EQ(ParseShare("90%"), ParseShare("0.9"));
  EXPECT_EQ(*ParseShare("90%"), 0.9);
  EXPECT_EQ(*ParseShare("90.0%"), 0.9);
}

TEST(Bool, AcceptsAllSpellings) {
  for (const char* t : {"yes", "true", "on", "YES", "True", "On"}) {
    EXPECT_EQ(ParseBool(t), std::optional<bool>(true)) << t;
  }
  for (const char* f : {"no", "false", "off", "NO", "False", "OFF"}) {
    EXPECT_EQ(ParseBool(f), std::optional<bool>(false)) << f;
  }
  for (const char* bad : {"", "1", "0", "y", "enabled", "yess"}) {
    EXPECT_FALSE(ParseBool(bad)) << bad;
  }
}

struct ListenCase {
  const char* label;
  const char* text;
  bool port_only_ok;
  bool ok;
  const char* host;
  int port;
};

class ListenTest : public ::testing::TestWithParam<ListenCase> {};

TEST_P(ListenTest, Parses) {
  const ListenCase& c = GetParam();
  auto a = ParseListenAddress(c.text, c.port_only_ok);
  ASSERT_EQ(a.has_value(), c.ok) << c.label;
  if (!c.ok) return;
  EXPECT_EQ(a->host, c.host) << c.label;
  EXPECT_EQ(a->port, c.port) << c.label;
}

INSTANTIATE_TEST_SUITE_P(
    Table, ListenTest,
    ::testing::Values(ListenCase{"all_addresses", "0/0:25", false, true, "0.0.0.0", 25},
                      ListenCase{"v4", "127.0.0.1:2525", false, true, "127.0.0.1", 2525},
                      ListenCase{"v4_bracketed", "[127.0.0.1]:2526", false, true, "127.0.0.1",
                                 2526},
                      ListenCase{"v6", "[::1]:25", false, true, "::1", 25},
                      ListenCase{"port_zero", "127.0.0.1:0", false, true, "127.0.0.1", 0},
                      ListenCase{"port_only", "8080", true, true, "0.0.0.0", 8080},
                      ListenCase{"port_only_refused", "8080", false, false, "", 0},
                      ListenCase{"bare_v6_ambiguous", "::1:25", false, false, "", 0},
                      ListenCase{"port_too_big", "127.0.0.1:65536", false, false, "", 0},
                      ListenCase{"no_port", "127.0.0.1:", false, false, "", 0},
                      ListenCase{"hostname", "localhost:25", false, false, "", 0},
                      ListenCase{"bad_address", "300.1.1.1:25", false, false, "", 0},
                      ListenCase{"unclosed_bracket", "[::1:25", false, false, "", 0}),
    [](const auto& info) { return std::string(info.param.label); });

}  // namespace
}  // namespace outpost::config
