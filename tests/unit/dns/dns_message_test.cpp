#include "mta/dns/dns_message.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace outpost::dns {
namespace {

using Bytes = std::vector<unsigned char>;

void Put16(Bytes& b, std::uint16_t v) {
  b.push_back(static_cast<unsigned char>(v >> 8));
  b.push_back(static_cast<unsigned char>(v));
}
void Put32(Bytes& b, std::uint32_t v) {
  Put16(b, static_cast<std::uint16_t>(v >> 16));
  Put16(b, static_cast<std::uint16_t>(v));
}
void PutName(Bytes& b, const std::string& name) {
  std::size_t start = 0;
  while (start < name.size()) {
    std::size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    b.push_back(static_cast<unsigned char>(dot - start));
    b.insert(b.end(), name.begin() + start, name.begin() + dot);
    start = dot + 1;
  }
  b.push_back(0);
}

struct Rr {
  std::uint16_t type;
  std::uint32_t ttl;
  Bytes rdata;
  bool pointer_owner = true;  // owner name as a pointer to the question (offset 12)
};

Bytes MxRdata(std::uint16_t pref, const std::string& host) {
  Bytes b;
  Put16(b, pref);
  PutName(b, host);
  return b;
}
Bytes SoaRdata(std::uint32_t minimum) {
  Bytes b;
  PutName(b, "ns.example");
  b.push_back(0xC0);  // RNAME compressed: points at the question name
  b.push_back(12);
  for (std::uint32_t v : {1u, 3600u, 600u, 86400u}) Put32(b, v);
  Put32(b, minimum);
  return b;
}

Bytes Message(const std::vector<Rr>& answers, const std::vector<Rr>& authority) {
  Bytes b;
  Put16(b, 0x1234);
  Put16(b, 0x8180);
  Put16(b, 1);
  Put16(b, static_cast<std::uint16_t>(answers.size()));
  Put16(b, static_cast<std::uint16_t>(authority.size()));
  Put16(b, 0);
  PutName(b, "example.test");
  Put16(b, 15);
  Put16(b, 1);
  for (const auto* section : {&answers, &authority}) {
    for (const Rr& rr : *section) {
      if (rr.pointer_owner) {
        b.push_back(0xC0);
        b.push_back(12);
      } else {
        PutName(b, "example.test");
      }
      Put16(b, rr.type);
      Put16(b, 1);
      Put32(b, rr.ttl);
      Put16(b, static_cast<std::uint16_t>(rr.rdata.size()));
      b.insert(b.end(), rr.rdata.begin(), rr.rdata.end());
    }
  }
  return b;
}

struct Case {
  const char* label;
  Bytes message;
  bool valid;
  std::optional<std::uint32_t> answer_ttl;
  std::optional<std::uint32_t> negative_ttl;
};

TEST(ReadMessageTtls, Table) {
  Bytes truncated = Message({{15, 300, MxRdata(10, "mx.example.test")}}, {});
  truncated.resize(truncated.size() - 3);
  const std::vector<Case> cases = {
      {"no answers", Message({}, {}), true, std::nullopt, std::nullopt},
      {"one MX", Message({{15, 300, MxRdata(10, "mx.example.test")}}, {}), true, 300, std::nullopt},
      {"min of answers",
       Message({{15, 300, MxRdata(10, "a.test")},
                {15, 120, MxRdata(20, "b.test")},
                {5, 900, MxRdata(0, "c.test")}},
               {}),
       true, 120, std::nullopt},
      {"uncompressed owner", Message({{15, 77, MxRdata(10, "a.test"), false}}, {}), true, 77,
       std::nullopt},
      {"soa: minimum below ttl", Message({}, {{6, 3600, SoaRdata(60)}}), true, std::nullopt, 60},
      {"soa: ttl below minimum", Message({}, {{6, 30, SoaRdata(600)}}), true, std::nullopt, 30},
      {"authority NS is not negative ttl", Message({}, {{2, 30, Bytes{0}}}), true, std::nullopt,
       std::nullopt},
      {"top-bit ttl reads as 0", Message({{15, 0x80000001u, MxRdata(1, "a.test")}}, {}), true, 0,
       std::nullopt},
      {"truncated rdata", truncated, false, std::nullopt, std::nullopt},
      {"short header", Bytes{0x12, 0x34, 0x81}, false, std::nullopt, std::nullopt},
      {"soa rdata too short", Message({}, {{6, 30, Bytes{0, 0}}}), false, std::nullopt,
       std::nullopt},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    const MessageTtls ttls = ReadMessageTtls(c.message.data(), c.message.size());
    EXPECT_EQ(ttls.valid, c.valid);
    EXPECT_EQ(ttls.answer_ttl, c.answer_ttl);
    EXPECT_EQ(ttls.negative_ttl, c.negative_ttl);
  }
}

TEST(ReadMessageTtls, CompressionLoopDoesNotHang) {
  Bytes b = Message({}, {});
  b[6] = 0;
  b[7] = 1;  // one answer whose owner points at itself
  const std::size_t at = b.size();
  b.push_back(0xC0);
  b.push_back(static_cast<unsigned char>(at));
  // A pointer ends the name, so the reader moves on and then runs out of bytes.
  EXPECT_FALSE(ReadMessageTtls(b.data(), b.size()).valid);
}

}  // namespace
}  // namespace outpost::dns
