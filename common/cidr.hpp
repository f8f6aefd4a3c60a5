// IPv4/IPv6 addresses and CIDR blocks for access rules (<source>, http-access).
//
// "0/0" matches every address of both families (PowerMTA's spelling); "1.2.3.4" is a /32 and
// "::1" a /128. An IPv4-mapped IPv6 address (::ffff:1.2.3.4) matches IPv4 rules.
//
// Thread-safety: value types.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace outpost {

struct IpAddress {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};  // IPv4 uses the first 4

  static std::optional<IpAddress> Parse(std::string_view text);
  std::string ToString() const;
  bool operator==(const IpAddress&) const = default;
};

struct Cidr {
  bool any = false;  // 0/0: every address of both families
  IpAddress base;
  int prefix = 0;

  static std::optional<Cidr> Parse(std::string_view text);
  bool Contains(const IpAddress& addr) const;
  // Longer prefixes are more specific; `any` is the least specific of all.
  int Specificity() const { return any ? -1 : prefix; }
  std::string ToString() const;
};

}  // namespace outpost
