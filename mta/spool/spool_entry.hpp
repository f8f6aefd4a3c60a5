// Spool entry framing and payload serialization, shared by the spool and its tests.
//
// Entry (little endian): magic "OPS1" | u32 payload length | u32 crc32(payload) | payload |
// trailer "OPSE" | u32 payload length. CheckEntry() tells a good entry from a torn one (not enough
// bytes for what the header promises) and from a damaged one (bad magic, impossible length, bad
// crc, bad trailer); recovery uses the distinction to report torn tails separately.
//
// Payload, version 1: u8 version | u8 flags (bit 0: body_8bit; bit 1: VERP, bit 2: its
// delimiters are "-=" rather than "+=") | i64 time_queued | str id |
// str mail_from | str env_id | str vmta | str job_id | str source_ip | str source_helo |
// str auth_user | u32 recipient count | str recipient... | u64 data length | data. A str is
// u32 length + bytes. Every length is checked against the payload size when decoding, so a payload
// that passed the crc but was written by a buggy or newer writer fails cleanly instead of reading
// out of bounds. A newer layout gets a new version byte; decoders reject versions they don't know.
//
// Relocated payload, version 2 (written by compaction, see spool.cpp): u8 version (2) |
// u32 root segment | u64 root offset | u32 previous segment | u64 previous offset | u32 recipient
// count | ceil(count / 8) bytes of done-recipient bits (bit i of byte i / 8) | the entry's
// version-1 payload, whole. The root is where the message was first written (its identity across
// copies); the previous location is the entry this one was copied from. DecodePayload() reads
// both versions; DecodeRelocation() reads the version-2 header.
//
// Limits: a payload is at most kMaxPayload bytes (1 GiB); larger messages are refused by the
// SMTP layer long before (max-message-size).
//
// Thread-safety: stateless functions, thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mta/spool/spool.hpp"

namespace outpost::spool {

inline constexpr std::size_t kEntryHeaderSize = 12;  // magic, length, crc
inline constexpr std::size_t kEntryTrailerSize = 8;  // trailer magic, length
inline constexpr std::size_t kEntryOverhead = kEntryHeaderSize + kEntryTrailerSize;
inline constexpr std::uint32_t kMaxPayload = 1u << 30;
inline constexpr char kEntryMagic[4] = {'O', 'P', 'S', '1'};
inline constexpr char kTrailerMagic[4] = {'O', 'P', 'S', 'E'};
inline constexpr std::uint8_t kPayloadVersion = 1;
inline constexpr std::uint8_t kRelocatedPayloadVersion = 2;

// What a relocated (version-2) payload says besides the message.
struct Relocation {
  SpoolId root;            // first location of the message
  SpoolId previous;        // the location this copy was made from
  std::vector<bool> done;  // recipients already finished when the copy was made
};

enum class EntryCheck {
  kOk,
  kIncomplete,  // fewer bytes than the header (or the header's length) needs: torn if at the end
  kBadMagic,
  kBadLength,  // length above kMaxPayload
  kBadCrc,
  kBadTrailer,  // trailer magic or its repeated length does not match
};
const char* EntryCheckName(EntryCheck check);

// Appends one framed entry holding `payload` to `out`.
void AppendEntry(std::string_view payload, std::string& out);

// Appends one framed entry whose payload is EncodePayload(envelope, data), encoding in place
// (no intermediate copy). False (and `out` unchanged) when the payload would exceed kMaxPayload.
bool AppendMessageEntry(const Envelope& envelope, std::string_view data, std::string& out);

// Checks the entry starting at `data` with `available` bytes after it. On kOk sets `payload` and
// `entry_size` (header + payload + trailer).
EntryCheck CheckEntry(const char* data, std::size_t available, std::string_view* payload,
                      std::size_t* entry_size);

// Serializes `message` into the version-1 payload layout (appending to `out`).
void EncodePayload(const Envelope& envelope, std::string_view data, std::string& out);
// Decodes a payload. `data` may be null to skip copying the message bytes; `data_size` (optional)
// receives their length. False if the payload is malformed or of an unknown version.
bool DecodePayload(std::string_view payload, Envelope& envelope, std::string* data,
                   std::uint64_t* data_size);

// Appends one framed version-2 entry: `relocation` wrapped around `inner`, a version-1 payload
// (or the inner payload of a version-2 one). False (and `out` unchanged) beyond kMaxPayload.
bool AppendRelocatedEntry(const Relocation& relocation, std::string_view inner, std::string& out);

// For a version-2 payload: true, with its header in `relocation` and the version-1 payload it
// wraps in `inner`. For a version-1 payload: true, `relocation` untouched and `inner` = payload.
// False when the payload is malformed.
bool DecodeRelocation(std::string_view payload, Relocation* relocation, bool* relocated,
                      std::string_view* inner);

std::uint32_t Crc32(std::string_view bytes);

}  // namespace outpost::spool
