#include "mta/log/log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>

namespace outpost::log {
namespace {

// All state of the process-wide log. `mu` serialises (re)opening against writing, so a line is
// never written to a descriptor that another thread is closing.
struct State {
  std::mutex mu;
  int fd = STDERR_FILENO;
  std::string path;  // "" = stderr
  dev_t dev = 0;
  ino_t ino = 0;
  std::atomic<int> min_level{static_cast<int>(Level::kInfo)};
};

State& TheState() {
  static State* state = new State;  // never destroyed: logging may happen during static teardown
  return *state;
}

const char* LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarning:
      return "warning";
    case Level::kError:
      return "error";
  }
  return "?";
}

// Opens `path` for appending and records its identity. Caller holds state.mu.
bool OpenLocked(State& state, const std::string& path, std::string* error) {
  if (path.empty()) {
    if (state.fd != STDERR_FILENO) ::close(state.fd);
    state.fd = STDERR_FILENO;
    state.path.clear();
    state.dev = 0;
    state.ino = 0;
    return true;
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) {
    if (error) *error = "cannot open log file " + path + ": " + std::strerror(errno);
    return false;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    if (error) *error = "cannot stat log file " + path + ": " + std::strerror(errno);
    ::close(fd);
    return false;
  }
  if (state.fd != STDERR_FILENO) ::close(state.fd);
  state.fd = fd;
  state.path = path;
  state.dev = st.st_dev;
  state.ino = st.st_ino;
  return true;
}

void FormatTimestamp(std::string& out) {
  auto now = std::chrono::system_clock::now();
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  localtime_r(&t, &tm);
  long off = tm.tm_gmtoff;
  char sign = off < 0 ? '-' : '+';
  if (off < 0) off = -off;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%03d%c%02ld%02ld",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms), sign, off / 3600, (off % 3600) / 60);
  out += buf;
}

}  // namespace

bool Init(const std::string& path, Level min_level, std::string* error) {
  State& state = TheState();
  std::lock_guard<std::mutex> lock(state.mu);
  if (!OpenLocked(state, path, error)) return false;
  state.min_level.store(static_cast<int>(min_level));
  return true;
}

bool ParseLevel(std::string_view text, Level& level) {
  if (text == "debug") {
    level = Level::kDebug;
  } else if (text == "info") {
    level = Level::kInfo;
  } else if (text == "warning" || text == "warn") {
    level = Level::kWarning;
  } else if (text == "error") {
    level = Level::kError;
  } else {
    return false;
  }
  return true;
}

void SetLevel(Level min_level) { TheState().min_level.store(static_cast<int>(min_level)); }

bool Enabled(Level level) {
  return static_cast<int>(level) >= TheState().min_level.load(std::memory_order_relaxed);
}

void Write(Level level, std::string_view component, std::string_view message) {
  if (!Enabled(level)) return;
  std::string line;
  line.reserve(48 + component.size() + message.size());
  FormatTimestamp(line);
  line += ' ';
  line += LevelName(level);
  line += ' ';
  line += component;
  line += ": ";
  // One event, one line: embedded line breaks (e.g. from a peer's reply) become spaces.
  for (char c : message) line += (c == '\n' || c == '\r') ? ' ' : c;
  line += '\n';

  State& state = TheState();
  std::lock_guard<std::mutex> lock(state.mu);
  // One write(2) per line; a short write (full disk) is not retried, the rest of the line is lost.
  ssize_t n;
  do {
    n = ::write(state.fd, line.data(), line.size());
  } while (n < 0 && errno == EINTR);
}

void Reopen() {
  State& state = TheState();
  std::lock_guard<std::mutex> lock(state.mu);
  if (state.path.empty()) return;
  std::string path = state.path;
  // On failure the old descriptor stays in use: losing lines is worse than writing to a moved file.
  OpenLocked(state, path, nullptr);
}

void CheckRotation() {
  State& state = TheState();
  std::lock_guard<std::mutex> lock(state.mu);
  if (state.path.empty()) return;
  struct stat st {};
  if (::stat(state.path.c_str(), &st) == 0 && st.st_dev == state.dev && st.st_ino == state.ino) {
    return;  // the path still names our file
  }
  std::string path = state.path;
  OpenLocked(state, path, nullptr);
}

}  // namespace outpost::log
