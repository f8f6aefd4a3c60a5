// The operational log: one line per session and per significant event.
//
//   2026-11-22 10:47:00.123+0000 info smtp: [127.0.0.1]:51234 accepted 0A1B2C3D4E5F6071 size=4211
//
// Written to `log-file` or stderr. Reopen() (called on SIGUSR1) and CheckRotation() (called about
// once a second; reopens when the path now names another file or none) make logrotate work. Lines
// are written whole with one write(2) each, so concurrent writers never interleave within a line.
//
// Thread-safety: all functions are thread-safe.
#pragma once

#include <sstream>
#include <string>
#include <string_view>

namespace outpost::log {

enum class Level { kDebug, kInfo, kWarning, kError };

// Opens `path` for appending ("" = stderr). Returns false and sets `error` on failure.
bool Init(const std::string& path, Level min_level, std::string* error);
bool ParseLevel(std::string_view text, Level& level);
void SetLevel(Level min_level);
bool Enabled(Level level);
void Write(Level level, std::string_view component, std::string_view message);
void Reopen();
void CheckRotation();

// Stream-style line builder: OUTPOST_LOG(kInfo, "smtp") << "accepted " << id;
class LineBuilder {
 public:
  LineBuilder(Level level, std::string_view component) : level_(level), component_(component) {}
  ~LineBuilder() { Write(level_, component_, stream_.str()); }
  template <typename T>
  LineBuilder& operator<<(const T& value) {
    stream_ << value;
    return *this;
  }

 private:
  Level level_;
  std::string_view component_;
  std::ostringstream stream_;
};

}  // namespace outpost::log

#define OUTPOST_LOG(level, component)                           \
  if (!::outpost::log::Enabled(::outpost::log::Level::level)) { \
  } else                                                        \
    ::outpost::log::LineBuilder(::outpost::log::Level::level, component)

// The same with a level computed at run time: OUTPOST_LOG_AT(verbose ? kInfo : kDebug, "smtp").
#define OUTPOST_LOG_AT(level_value, component)                        \
  if (const ::outpost::log::Level outpost_log_level_ = (level_value); \
      !::outpost::log::Enabled(outpost_log_level_)) {                 \
  } else                                                              \
    ::outpost::log::LineBuilder(outpost_log_level_, component)
