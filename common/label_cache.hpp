// A small allocation-free cache from label text to a 16-bit id, for the ingest hot path.
//
// What it does: Find() hashes the bytes and probes an open-addressing table, comparing candidates
// with memcmp against a private arena; it never allocates. Insert() copies the key into the arena.
// Callers (CappedLabel, ProviderResolver) keep their authoritative maps and use this only to skip
// the slow path (std::string keys, lower-casing, parent-domain walks) for values already seen.
//
// Invariants: a hit returns exactly the id inserted for byte-identical text. When the table is half
// full or the arena full, Insert() first clears everything (values then take the slow path once
// more), so memory stays bounded whatever the traffic.
//
// Tunables/limits: kSlots (power of two) and kArenaBytes; keys longer than 1 KiB are not cached.
//
// Thread-safety: not thread-safe (one per ingest thread, like its owners).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace outpost {

class LabelCache {
 public:
  static constexpr std::size_t kSlots = 4096;
  static constexpr std::size_t kArenaBytes = 128 * 1024;
  static constexpr std::size_t kMaxKeyBytes = 1024;

  LabelCache() : slots_(kSlots) { arena_.reserve(kArenaBytes); }

  static std::uint64_t Hash(std::string_view s) {
    std::uint64_t h = 0x9E3779B97F4A7C15ull ^ s.size();
    const char* p = s.data();
    std::size_t n = s.size();
    while (n >= 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
      h ^= h >> 31;
      p += 8;
      n -= 8;
    }
    if (n > 0) {
      std::uint64_t w = 0;
      std::memcpy(&w, p, n);
      h = (h ^ w) * 0x94D049BB133111EBull;
      h ^= h >> 29;
    }
    return h;
  }

  bool Find(std::string_view key, std::uint64_t h, std::uint16_t* id) const {
    for (std::size_t i = h & (kSlots - 1);; i = (i + 1) & (kSlots - 1)) {
      const Slot& s = slots_[i];
      if (!s.used) return false;
      if (s.hash == h && s.len == key.size() &&
          std::memcmp(arena_.data() + s.off, key.data(), key.size()) == 0) {
        *id = s.id;
        return true;
      }
    }
  }

  void Insert(std::string_view key, std::uint64_t h, std::uint16_t id) {
    if (key.size() > kMaxKeyBytes) return;
    if (count_ + 1 > kSlots / 2 || arena_.size() + key.size() > kArenaBytes) Clear();
    std::size_t i = h & (kSlots - 1);
    while (slots_[i].used) i = (i + 1) & (kSlots - 1);
    slots_[i] = Slot{h, static_cast<std::uint32_t>(arena_.size()),
                     static_cast<std::uint16_t>(key.size()), id, true};
    arena_.append(key);
    ++count_;
  }

  void Clear() {
    for (Slot& s : slots_) s.used = false;
    arena_.clear();
    count_ = 0;
  }

 private:
  struct Slot {
    std::uint64_t hash = 0;
    std::uint32_t off = 0;
    std::uint16_t len = 0;
    std::uint16_t id = 0;
    bool used = false;
  };
  std::vector<Slot> slots_;
  std::string arena_;
  std::size_t count_ = 0;
};

}  // namespace outpost
