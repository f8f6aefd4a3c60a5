#include "mta/spool/spool_entry.hpp"

#include <gtest/gtest.h>

#include <string>

namespace outpost::spool {
namespace {

Envelope SampleEnvelope() {
  Envelope e;
  e.id = "0A1B2C3D4E5F6071";
  e.time_queued = 1764000000;
  e.mail_from = "bounces@example.com";
  e.recipients = {"a@example.net", "b@example.org", ""};
  e.env_id = "env-1";
  e.vmta = "vmta1";
  e.job_id = "job 7";
  e.source_ip = "127.0.0.1";
  e.source_helo = "client.example";
  e.auth_user = "user";
  e.body_8bit = true;
  return e;
}

std::string GoodEntry(const std::string& payload) {
  std::string out;
  AppendEntry(payload, out);
  return out;
}

TEST(SpoolEntry, CheckTable) {
  const std::string payload = "hello spool payload";
  const std::string good = GoodEntry(payload);
  struct Case {
    const char* label;
    std::string bytes;
    EntryCheck want;
  };
  auto flip = [&](std::size_t at) {
    std::string b = good;
    b[at] = static_cast<char>(b[at] ^ 0x40);
    return b;
  };
  std::string huge_len = good;
  huge_len[7] = static_cast<char>(0x7f);  // length ~2 GiB > kMaxPayload
  std::string short_len = good;
  short_len[4] = static_cast<char>(payload.size() - 1);  // header length no longer matches
  const Case cases[] = {
      {"good entry", good, EntryCheck::kOk},
      {"good entry followed by more bytes", good + "OPS1xxxx", EntryCheck::kOk},
      {"flipped payload byte", flip(kEntryHeaderSize + 3), EntryCheck::kBadCrc},
      {"flipped crc byte", flip(9), EntryCheck::kBadCrc},
      {"truncated by one byte", good.substr(0, good.size() - 1), EntryCheck::kIncomplete},
      {"truncated inside payload", good.substr(0, kEntryHeaderSize + 2), EntryCheck::kIncomplete},
      {"truncated inside header", good.substr(0, 6), EntryCheck::kIncomplete},
      {"only part of the magic", good.substr(0, 2), EntryCheck::kIncomplete},
      {"bad trailer magic", flip(good.size() - 8), EntryCheck::kBadTrailer},
      {"bad trailer length", flip(good.size() - 4), EntryCheck::kBadTrailer},
      {"header length too small", short_len, EntryCheck::kBadTrailer},
      {"bad magic", flip(0), EntryCheck::kBadMagic},
      {"zeros", std::string(good.size(), '\0'), EntryCheck::kBadMagic},
      {"length above limit", huge_len, EntryCheck::kBadLength},
  };
  for (const Case& c : cases) {
    std::string_view got_payload;
    std::size_t size = 0;
    EXPECT_EQ(CheckEntry(c.bytes.data(), c.bytes.size(), &got_payload, &size), c.want)
        << c.label << " (got "
        << EntryCheckName(CheckEntry(c.bytes.data(), c.bytes.size(), nullptr, nullptr)) << ")";
    if (c.want == EntryCheck::kOk) {
      EXPECT_EQ(got_payload, payload) << c.label;
      EXPECT_EQ(size, good.size()) << c.label;
    }
  }
}

TEST(SpoolEntry, EmptyPayloadRoundTrips) {
  std::string entry = GoodEntry("");
  EXPECT_EQ(entry.size(), kEntryOverhead);
  std::string_view payload = "x";
  EXPECT_EQ(CheckEntry(entry.data(), entry.size(), &payload, nullptr), EntryCheck::kOk);
  EXPECT_TRUE(payload.empty());
}

TEST(SpoolEntry, MessageEntryRoundTrips) {
  const Envelope e = SampleEnvelope();
  using namespace std::string_literals;
  const std::string data = "Subject: hi\r\n\r\nbody with \0 nul\r\n"s;
  std::string entry = "prefix";
  ASSERT_TRUE(AppendMessageEntry(e, data, entry));
  std::string_view payload;
  std::size_t size = 0;
  ASSERT_EQ(CheckEntry(entry.data() + 6, entry.size() - 6, &payload, &size), EntryCheck::kOk);
  EXPECT_EQ(size, entry.size() - 6);
  Envelope got;
  std::string got_data;
  std::uint64_t data_size = 0;
  ASSERT_TRUE(DecodePayload(payload, got, &got_data, &data_size));
  EXPECT_EQ(got.id, e.id);
  EXPECT_EQ(got.time_queued, e.time_queued);
  EXPECT_EQ(got.mail_from, e.mail_from);
  EXPECT_EQ(got.recipients, e.recipients);
  EXPECT_EQ(got.env_id, e.env_id);
  EXPECT_EQ(got.vmta, e.vmta);
  EXPECT_EQ(got.job_id, e.job_id);
  EXPECT_EQ(got.source_ip, e.source_ip);
  EXPECT_EQ(got.source_helo, e.source_helo);
  EXPECT_EQ(got.auth_user, e.auth_user);
  EXPECT_TRUE(got.body_8bit);
  EXPECT_EQ(got_data, data);
  EXPECT_EQ(data_size, data.size());
  // Envelope only, without copying the data.
  Envelope again;
  std::uint64_t n = 0;
  ASSERT_TRUE(DecodePayload(payload, again, nullptr, &n));
  EXPECT_EQ(n, data.size());
}

// The VERP request survives the spool: none, "+=" and "-=", each with and without 8BITMIME.
TEST(SpoolEntry, VerpDelimitersRoundTrip) {
  for (const char* delimiters : {"", "+=", "-="}) {
    for (bool eight_bit : {false, true}) {
      Envelope e = SampleEnvelope();
      e.verp_delimiters = delimiters;
      e.body_8bit = eight_bit;
      std::string payload;
      EncodePayload(e, "data", payload);
      Envelope got;
      ASSERT_TRUE(DecodePayload(payload, got, nullptr, nullptr));
      EXPECT_EQ(got.verp_delimiters, delimiters);
      EXPECT_EQ(got.body_8bit, eight_bit);
    }
  }
}

TEST(SpoolEntry, MalformedPayloadsFailCleanly) {
  std::string payload;
  EncodePayload(SampleEnvelope(), "data", payload);
  struct Case {
    const char* label;
    std::string bytes;
  };
  std::string bad_version = payload;
  bad_version[0] = 2;
  std::string long_string = payload;
  long_string[10 + 3] = static_cast<char>(0x7f);  // id length far beyond the payload
  const Case cases[] = {
      {"empty", ""},
      {"unknown version", bad_version},
      {"truncated", payload.substr(0, payload.size() - 1)},
      {"trailing garbage", payload + "x"},
      {"string length beyond end", long_string},
  };
  for (const Case& c : cases) {
    Envelope e;
    std::string data;
    EXPECT_FALSE(DecodePayload(c.bytes, e, &data, nullptr)) << c.label;
  }
}

}  // namespace
}  // namespace outpost::spool
