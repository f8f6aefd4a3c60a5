#include "common/cidr.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace outpost {

std::optional<IpAddress> IpAddress::Parse(std::string_view text) {
  std::string s(text);
  IpAddress a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) return a;
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
    static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(a.bytes.data(), kMapped, 12) == 0) {
      std::memmove(a.bytes.data(), a.bytes.data() + 12, 4);
      std::memset(a.bytes.data() + 4, 0, 12);
      return a;
    }
    a.v6 = true;
    return a;
  }
  return std::nullopt;
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof buf);
  return buf;
}

std::optional<Cidr> Cidr::Parse(std::string_view text) {
  Cidr c;
  if (text == "0/0" || text == "*") {
    c.any = true;
    return c;
  }
  std::size_t slash = text.find('/');
  auto addr = IpAddress::Parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  c.base = *addr;
  int max = addr->v6 ? 128 : 32;
  c.prefix = max;
  if (slash != std::string_view::npos) {
    std::string_view p = text.substr(slash + 1);
    auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), c.prefix);
    if (ec != std::errc() || ptr != p.data() + p.size() || p.empty() || c.prefix < 0 ||
        c.prefix > max) {
      return std::nullopt;
    }
  }
  return c;
}

bool Cidr::Contains(const IpAddress& addr) const {
  if (any) return true;
  if (addr.v6 != base.v6) return false;
  int full = prefix / 8, rest = prefix % 8;
  if (std::memcmp(addr.bytes.data(), base.bytes.data(), full) != 0) return false;
  if (rest == 0) return true;
  std::uint8_t mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (addr.bytes[full] & mask) == (base.bytes[full] & mask);
}

std::string Cidr::ToString() const {
  if (any) return "0/0";
  return base.ToString() + "/" + std::to_string(prefix);
}

}  // namespace outpost
