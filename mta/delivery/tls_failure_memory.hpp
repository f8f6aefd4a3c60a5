// "STARTTLS failed at this server": the memory behind opportunistic TLS's plain-text fallback.
//
// What it does: when a TLS handshake fails at a server and the destination does not require
// STARTTLS, SmtpDeliverer retries that connection in plain text at once and remembers the failure
// here, so the next connections to the same server skip STARTTLS for `ttl` (1 h) instead of
// failing a handshake each time (what Postfix does for opportunistic TLS).
//
// Invariants:
// * An entry is keyed by exactly what failed: the MX host name (or the route's host), the IP
//   address and the TCP port. A broken TLS stack on one port of an address says nothing about the
//   other ports of that address, nor about other host names served there (virtual hosting picks
//   the certificate by name).
// * Time comes from the injected outpost::Clock: `mono` for expiry while running (does not jump
// when
//   the wall clock is set), `wall` for the persisted form (steady time does not survive a
//   restart). A test expires an entry by advancing a SimulatedClock.
// * At most `capacity` entries (10,000): the oldest insertion is dropped first. Remembering a key
//   again refreshes its expiry and moves it to the newest position.
//
// Persistence (Save/Load): a small text file, written whole to "PATH.tmp", fsynced and renamed
// over PATH (then the directory fsynced), so a crash leaves the old or the new file, never half of
// one. At most kMaxPersisted (1,000) entries, the newest, are written; expired ones never are.
// Format: a first line "# outpost tls-failures v1", then one line per entry
// "EXPIRES_UNIX PORT ADDRESS HOST" (oldest first). Load() skips lines it cannot read and entries
// already expired by the wall clock; an entry's remaining lifetime is capped at `ttl` (a wall clock
// set back cannot make it live longer). A missing file is an empty memory, not an error.
//
// Error policy: errors are values (false + text); the caller logs them. Losing the memory only
// costs one failed handshake per server.
//
// Thread-safety: not thread-safe (used on the delivery io_context's thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/clock.hpp"

namespace outpost::delivery {

// What failed: the server's name, address and port.
struct TlsServerKey {
  std::string host;     // MX host name (lower case), or the route's host; may be an address
  std::string address;  // the IP address connected to
  std::uint16_t port = 25;
  std::string Text() const;  // "mx.example.net[192.0.2.1]:25" (for logs)
};

// Thread-safety: not thread-safe.
class TlsFailureMemory {
 public:
  static constexpr std::size_t kMaxPersisted = 1000;

  explicit TlsFailureMemory(const outpost::Clock& clock,
                            std::chrono::seconds ttl = std::chrono::hours(1),
                            std::size_t capacity = 10000);

  void Remember(const TlsServerKey& key);
  bool Failed(const TlsServerKey& key);  // drops an expired entry
  std::size_t size() const { return entries_.size(); }

  // The persisted form of the live entries (see the header comment).
  std::string Serialize() const;
  // Adds the entries of `text` (the Serialize() form); returns how many were taken.
  std::size_t Deserialize(std::string_view text);

  // Atomic write of Serialize() to `path` (temp file, fsync, rename, directory fsync).
  bool Save(const std::string& path, std::string* error) const;
  // Reads `path` (missing: nothing loaded, true). `loaded` (optional) gets the count.
  bool Load(const std::string& path, std::size_t* loaded, std::string* error);

 private:
  struct Entry {
    TlsServerKey key;
    outpost::MonoTime expires;
    outpost::WallTime expires_wall;
    std::list<std::string>::iterator position;
  };
  static std::string MapKey(const TlsServerKey& key);
  void Insert(const TlsServerKey& key, outpost::MonoTime expires, outpost::WallTime expires_wall);

  const outpost::Clock& clock_;
  std::chrono::seconds ttl_;
  std::size_t capacity_;
  std::list<std::string> order_;  // map keys in insertion order, oldest first
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace outpost::delivery
