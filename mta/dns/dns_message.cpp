#include "mta/dns/dns_message.hpp"

#include <algorithm>

namespace outpost::dns {
namespace {

constexpr std::size_t kHeaderSize = 12;
constexpr std::uint16_t kTypeSoa = 6;

// Bounds-checked reader over one message.
class Reader {
 public:
  Reader(const unsigned char* data, std::size_t length) : data_(data), length_(length) {}

  bool ok() const { return ok_; }

  std::uint16_t U16At(std::size_t at) {
    if (at + 2 > length_) return Fail16();
    return static_cast<std::uint16_t>((data_[at] << 8) | data_[at + 1]);
  }
  std::uint32_t U32At(std::size_t at) {
    if (at + 4 > length_) {
      ok_ = false;
      return 0;
    }
    return (std::uint32_t{data_[at]} << 24) | (std::uint32_t{data_[at + 1]} << 16) |
           (std::uint32_t{data_[at + 2]} << 8) | std::uint32_t{data_[at + 3]};
  }

  // Returns the offset just past the (possibly compressed) name starting at `at`.
  std::size_t SkipName(std::size_t at) {
    for (int labels = 0; labels < 128; ++labels) {
      if (at >= length_) break;
      const unsigned char len = data_[at];
      if (len == 0) return at + 1;
      if ((len & 0xC0) == 0xC0) {
        if (at + 2 > length_) break;
        return at + 2;
      }
      if ((len & 0xC0) != 0) break;  // reserved label types
      at += 1 + len;
    }
    ok_ = false;
    return length_;
  }

 private:
  std::uint16_t Fail16() {
    ok_ = false;
    return 0;
  }

  const unsigned char* data_;
  std::size_t length_;
  bool ok_ = true;
};

std::uint32_t Sanitize(std::uint32_t ttl) { return (ttl & 0x80000000u) != 0 ? 0 : ttl; }

void KeepMin(std::optional<std::uint32_t>& slot, std::uint32_t value) {
  slot = slot ? std::min(*slot, value) : value;
}

}  // namespace

MessageTtls ReadMessageTtls(const unsigned char* message, std::size_t length) {
  MessageTtls out;
  if (message == nullptr || length < kHeaderSize) return out;
  Reader r(message, length);
  const std::uint16_t qdcount = r.U16At(4);
  const std::uint16_t ancount = r.U16At(6);
  const std::uint16_t nscount = r.U16At(8);
  std::size_t at = kHeaderSize;
  for (int i = 0; i < qdcount && r.ok(); ++i) at = r.SkipName(at) + 4;  // QTYPE, QCLASS
  for (int i = 0; i < ancount + nscount && r.ok(); ++i) {
    at = r.SkipName(at);
    const std::uint16_t type = r.U16At(at);
    const std::uint32_t ttl = Sanitize(r.U32At(at + 4));
    const std::uint16_t rdlength = r.U16At(at + 8);
    const std::size_t rdata = at + 10;
    if (!r.ok() || rdata + rdlength > length) return MessageTtls{};
    if (i < ancount) {
      KeepMin(out.answer_ttl, ttl);
    } else if (type == kTypeSoa) {
      // SOA RDATA: MNAME, RNAME, then SERIAL REFRESH RETRY EXPIRE MINIMUM (32 bits each).
      std::size_t p = r.SkipName(rdata);
      p = r.SkipName(p);
      const std::uint32_t minimum = Sanitize(r.U32At(p + 16));
      if (!r.ok() || p + 20 > rdata + rdlength) return MessageTtls{};
      KeepMin(out.negative_ttl, std::min(ttl, minimum));
    }
    at = rdata + rdlength;
  }
  if (!r.ok()) return MessageTtls{};
  out.valid = true;
  return out;
}

}  // namespace outpost::dns
