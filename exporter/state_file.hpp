// The exporter's durable state: one JSON snapshot holding file positions AND counter values.
//
// What it does: Write() replaces the state file atomically (write FILE.tmp, fsync, rename over
// FILE, fsync the directory), so a crash at any instant leaves either the previous or the new
// snapshot, never a mix. Read() returns the snapshot, or nothing when the file does not exist.
//
// Invariants: positions and counters in one snapshot were taken at the same instant by the ingest
// thread, so restoring both and re-reading from the positions counts every record exactly once.
//
// Error policy: Write() returns false with a message (counted, retried at the next interval);
// Read() of a corrupt file returns an error (start-up refuses rather than silently recount).
//
// Thread-safety: stateless functions; callers serialize writes to one path.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace outpost::exporter {

bool WriteStateFile(const std::string& path, const nlohmann::json& state, std::string* error);

// nullopt + empty *error: no state file. nullopt + *error: unreadable or corrupt.
std::optional<nlohmann::json> ReadStateFile(const std::string& path, std::string* error);

}  // namespace outpost::exporter
