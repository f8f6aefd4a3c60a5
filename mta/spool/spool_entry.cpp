#include "mta/spool/spool_entry.hpp"

#include <zlib.h>

#include <cstring>

namespace outpost::spool {
namespace {

void PutU32(std::uint32_t v, std::string& out) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  out.append(b, 4);
}

void PutU64(std::uint64_t v, std::string& out) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  out.append(b, 8);
}

std::uint32_t GetU32(const char* p) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::uint64_t GetU64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

void PutStr(std::string_view s, std::string& out) {
  PutU32(static_cast<std::uint32_t>(s.size()), out);
  out.append(s.data(), s.size());
}

// Bounds-checked reader over a payload.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool U8(std::uint8_t& v) {
    if (in_.size() - pos_ < 1) return false;
    v = static_cast<std::uint8_t>(in_[pos_++]);
    return true;
  }
  bool U32(std::uint32_t& v) {
    if (in_.size() - pos_ < 4) return false;
    v = GetU32(in_.data() + pos_);
    pos_ += 4;
    return true;
  }
  bool U64(std::uint64_t& v) {
    if (in_.size() - pos_ < 8) return false;
    v = GetU64(in_.data() + pos_);
    pos_ += 8;
    return true;
  }
  bool Bytes(std::uint64_t n, std::string_view& v) {
    if (in_.size() - pos_ < n) return false;
    v = in_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool Str(std::string& v) {
    std::uint32_t n;
    std::string_view s;
    if (!U32(n) || !Bytes(n, s)) return false;
    v.assign(s);
    return true;
  }
  bool AtEnd() const { return pos_ == in_.size(); }

 private:
  std::string_view in_;
  std::size_t pos_ = 0;
};

}  // namespace

const char* EntryCheckName(EntryCheck check) {
  switch (check) {
    case EntryCheck::kOk:
      return "ok";
    case EntryCheck::kIncomplete:
      return "incomplete";
    case EntryCheck::kBadMagic:
      return "bad magic";
    case EntryCheck::kBadLength:
      return "bad length";
    case EntryCheck::kBadCrc:
      return "bad crc";
    case EntryCheck::kBadTrailer:
      return "bad trailer";
  }
  return "?";
}

std::uint32_t Crc32(std::string_view bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes uInt lengths; feed in chunks so payloads near kMaxPayload are fine too.
  const char* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    uInt n = static_cast<uInt>(left > (1u << 30) ? (1u << 30) : left);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(p), n);
    p += n;
    left -= n;
  }
  return static_cast<std::uint32_t>(crc);
}

void AppendEntry(std::string_view payload, std::string& out) {
  auto len = static_cast<std::uint32_t>(payload.size());
  out.reserve(out.size() + payload.size() + kEntryOverhead);
  out.append(kEntryMagic, 4);
  PutU32(len, out);
  PutU32(Crc32(payload), out);
  out.append(payload.data(), payload.size());
  out.append(kTrailerMagic, 4);
  PutU32(len, out);
}

bool AppendMessageEntry(const Envelope& envelope, std::string_view data, std::string& out) {
  std::size_t start = out.size();
  out.append(kEntryHeaderSize, '\0');
  EncodePayload(envelope, data, out);
  std::size_t len = out.size() - start - kEntryHeaderSize;
  if (len > kMaxPayload) {
    out.resize(start);
    return false;
  }
  std::string header(kEntryMagic, 4);
  PutU32(static_cast<std::uint32_t>(len), header);
  PutU32(Crc32(std::string_view(out).substr(start + kEntryHeaderSize, len)), header);
  out.replace(start, kEntryHeaderSize, header);
  out.append(kTrailerMagic, 4);
  PutU32(static_cast<std::uint32_t>(len), out);
  return true;
}

EntryCheck CheckEntry(const char* data, std::size_t available, std::string_view* payload,
                      std::size_t* entry_size) {
  // Judge the magic on whatever bytes there are, so a short tail of garbage is not "torn".
  std::size_t magic_bytes = available < 4 ? available : 4;
  if (std::memcmp(data, kEntryMagic, magic_bytes) != 0) return EntryCheck::kBadMagic;
  if (available < kEntryHeaderSize) return EntryCheck::kIncomplete;
  std::uint32_t len = GetU32(data + 4);
  if (len > kMaxPayload) return EntryCheck::kBadLength;
  std::size_t size = kEntryOverhead + len;
  if (available < size) return EntryCheck::kIncomplete;
  std::string_view body(data + kEntryHeaderSize, len);
  const char* trailer = data + kEntryHeaderSize + len;
  if (std::memcmp(trailer, kTrailerMagic, 4) != 0 || GetU32(trailer + 4) != len) {
    return EntryCheck::kBadTrailer;
  }
  if (Crc32(body) != GetU32(data + 8)) return EntryCheck::kBadCrc;
  if (payload) *payload = body;
  if (entry_size) *entry_size = size;
  return EntryCheck::kOk;
}

namespace {

constexpr std::uint8_t kFlag8Bit = 1;
constexpr std::uint8_t kFlagVerp = 2;      // VERP with the delimiters "+=" ...
constexpr std::uint8_t kFlagVerpDash = 4;  // ... or, with this bit too, "-="

std::uint8_t EnvelopeFlags(const Envelope& e) {
  std::uint8_t flags = e.body_8bit ? kFlag8Bit : 0;
  if (!e.verp_delimiters.empty()) flags |= kFlagVerp;
  if (e.verp_delimiters == "-=") flags |= kFlagVerpDash;
  return flags;
}

void SetEnvelopeFlags(std::uint8_t flags, Envelope& e) {
  e.body_8bit = (flags & kFlag8Bit) != 0;
  if (flags & kFlagVerp) e.verp_delimiters = (flags & kFlagVerpDash) ? "-=" : "+=";
}

}  // namespace

void EncodePayload(const Envelope& e, std::string_view data, std::string& out) {
  std::size_t estimate = 64 + e.id.size() + e.mail_from.size() + data.size();
  for (const auto& r : e.recipients) estimate += 4 + r.size();
  out.reserve(out.size() + estimate);
  out.push_back(static_cast<char>(kPayloadVersion));
  out.push_back(static_cast<char>(EnvelopeFlags(e)));
  PutU64(static_cast<std::uint64_t>(e.time_queued), out);
  PutStr(e.id, out);
  PutStr(e.mail_from, out);
  PutStr(e.env_id, out);
  PutStr(e.vmta, out);
  PutStr(e.job_id, out);
  PutStr(e.source_ip, out);
  PutStr(e.source_helo, out);
  PutStr(e.auth_user, out);
  PutU32(static_cast<std::uint32_t>(e.recipients.size()), out);
  for (const auto& r : e.recipients) PutStr(r, out);
  PutU64(data.size(), out);
  out.append(data.data(), data.size());
}

bool AppendRelocatedEntry(const Relocation& relocation, std::string_view inner, std::string& out) {
  const auto count = static_cast<std::uint32_t>(relocation.done.size());
  std::string payload;
  payload.reserve(1 + 4 + 8 + 4 + 8 + 4 + (count + 7) / 8 + inner.size());
  payload.push_back(static_cast<char>(kRelocatedPayloadVersion));
  PutU32(relocation.root.segment, payload);
  PutU64(relocation.root.offset, payload);
  PutU32(relocation.previous.segment, payload);
  PutU64(relocation.previous.offset, payload);
  PutU32(count, payload);
  std::string bits((count + 7) / 8, '\0');
  for (std::uint32_t i = 0; i < count; ++i) {
    if (relocation.done[i]) bits[i / 8] = static_cast<char>(bits[i / 8] | (1 << (i % 8)));
  }
  payload += bits;
  payload.append(inner.data(), inner.size());
  if (payload.size() > kMaxPayload) return false;
  AppendEntry(payload, out);
  return true;
}

bool DecodeRelocation(std::string_view payload, Relocation* relocation, bool* relocated,
                      std::string_view* inner) {
  Reader r(payload);
  std::uint8_t version;
  if (!r.U8(version)) return false;
  if (version != kRelocatedPayloadVersion) {
    if (relocated) *relocated = false;
    if (inner) *inner = payload;
    return true;
  }
  Relocation rel;
  std::uint32_t count;
  std::string_view bits;
  if (!r.U32(rel.root.segment) || !r.U64(rel.root.offset) || !r.U32(rel.previous.segment) ||
      !r.U64(rel.previous.offset) || !r.U32(count) ||
      !r.Bytes((static_cast<std::uint64_t>(count) + 7) / 8, bits)) {
    return false;
  }
  rel.done.resize(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    rel.done[i] = (static_cast<unsigned char>(bits[i / 8]) >> (i % 8)) & 1;
  }
  std::string_view rest;
  if (!r.Bytes(payload.size() - (1 + 4 + 8 + 4 + 8 + 4 + bits.size()), rest)) return false;
  // Only a version-1 payload may be wrapped: a copy of a copy is re-wrapped, never nested.
  if (rest.empty() || static_cast<std::uint8_t>(rest[0]) != kPayloadVersion) return false;
  if (relocated) *relocated = true;
  if (relocation) *relocation = std::move(rel);
  if (inner) *inner = rest;
  return true;
}

bool DecodePayload(std::string_view payload, Envelope& e, std::string* data,
                   std::uint64_t* data_size) {
  bool relocated = false;
  if (!DecodeRelocation(payload, nullptr, &relocated, &payload)) return false;
  Reader r(payload);
  std::uint8_t version, flags;
  std::uint64_t time_queued;
  if (!r.U8(version) || version != kPayloadVersion || !r.U8(flags) || !r.U64(time_queued)) {
    return false;
  }
  e = Envelope{};
  SetEnvelopeFlags(flags, e);
  e.time_queued = static_cast<std::int64_t>(time_queued);
  if (!r.Str(e.id) || !r.Str(e.mail_from) || !r.Str(e.env_id) || !r.Str(e.vmta) ||
      !r.Str(e.job_id) || !r.Str(e.source_ip) || !r.Str(e.source_helo) || !r.Str(e.auth_user)) {
    return false;
  }
  std::uint32_t count;
  if (!r.U32(count) || count > payload.size() / 4) return false;  // each needs >= 4 bytes
  e.recipients.resize(count);
  for (auto& rcpt : e.recipients) {
    if (!r.Str(rcpt)) return false;
  }
  std::uint64_t n;
  std::string_view bytes;
  if (!r.U64(n) || !r.Bytes(n, bytes) || !r.AtEnd()) return false;
  if (data) data->assign(bytes);
  if (data_size) *data_size = n;
  return true;
}

}  // namespace outpost::spool
