#include "mta/delivery/tls_failure_memory.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <vector>

namespace outpost::delivery {
namespace {

constexpr std::string_view kFileHeader = "# outpost tls-failures v1";

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

std::int64_t UnixSeconds(outpost::WallTime t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// Splits on single spaces; empty fields are kept (a malformed line then fails its checks).
std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    std::size_t sp = line.find(' ', start);
    out.push_back(line.substr(start, sp == std::string_view::npos ? sp : sp - start));
    if (sp == std::string_view::npos) return out;
    start = sp + 1;
  }
}

bool Printable(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (c <= ' ' || c >= 0x7f) return false;
  }
  return true;
}

template <typename Int>
bool ParseInt(std::string_view s, Int& out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

std::string TlsServerKey::Text() const {
  return host + "[" + address + "]:" + std::to_string(port);
}

TlsFailureMemory::TlsFailureMemory(const outpost::Clock& clock, std::chrono::seconds ttl,
                                   std::size_t capacity)
    : clock_(clock), ttl_(ttl), capacity_(capacity == 0 ? 1 : capacity) {}

std::string TlsFailureMemory::MapKey(const TlsServerKey& key) {
  return key.host + ' ' + key.address + ' ' + std::to_string(key.port);
}

void TlsFailureMemory::Insert(const TlsServerKey& key, outpost::MonoTime expires,
                              outpost::WallTime expires_wall) {
  const std::string map_key = MapKey(key);
  auto it = entries_.find(map_key);
  if (it != entries_.end()) {
    order_.erase(it->second.position);
    entries_.erase(it);
  }
  while (entries_.size() >= capacity_) {
    entries_.erase(order_.front());
    order_.pop_front();
  }
  order_.push_back(map_key);
  entries_.emplace(map_key, Entry{key, expires, expires_wall, std::prev(order_.end())});
}

void TlsFailureMemory::Remember(const TlsServerKey& key) {
  const outpost::Instant now = clock_.Now();
  Insert(key, now.mono + ttl_, now.wall + ttl_);
}

bool TlsFailureMemory::Failed(const TlsServerKey& key) {
  auto it = entries_.find(MapKey(key));
  if (it == entries_.end()) return false;
  if (clock_.Now().mono < it->second.expires) return true;
  order_.erase(it->second.position);
  entries_.erase(it);
  return false;
}

std::string TlsFailureMemory::Serialize() const {
  const outpost::MonoTime now = clock_.Now().mono;
  std::vector<const Entry*> live;
  for (const std::string& map_key : order_) {
    const Entry& e = entries_.at(map_key);
    if (now < e.expires) live.push_back(&e);
  }
  const std::size_t skip = live.size() > kMaxPersisted ? live.size() - kMaxPersisted : 0;
  std::string out(kFileHeader);
  out += '\n';
  for (std::size_t i = skip; i < live.size(); ++i) {
    const Entry& e = *live[i];
    out += std::to_string(UnixSeconds(e.expires_wall)) + ' ' + std::to_string(e.key.port) + ' ' +
           e.key.address + ' ' + e.key.host + '\n';
  }
  return out;
}

std::size_t TlsFailureMemory::Deserialize(std::string_view text) {
  const outpost::Instant now = clock_.Now();
  const std::int64_t now_unix = now.unix_seconds();
  std::size_t taken = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? nl : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    if (line.empty() || line.front() == '#') continue;
    std::vector<std::string_view> f = Fields(line);
    std::int64_t expires_unix = 0;
    std::uint16_t port = 0;
    if (f.size() != 4 || !ParseInt(f[0], expires_unix) || !ParseInt(f[1], port) || port == 0 ||
        !Printable(f[2]) || !Printable(f[3])) {
      continue;
    }
    std::int64_t left = expires_unix - now_unix;
    if (left <= 0) continue;
    if (left > ttl_.count()) left = ttl_.count();
    TlsServerKey key{std::string(f[3]), std::string(f[2]), port};
    Insert(key, now.mono + std::chrono::seconds(left), now.wall + std::chrono::seconds(left));
    ++taken;
  }
  return taken;
}

bool TlsFailureMemory::Save(const std::string& path, std::string* error) const {
  const std::string tmp = path + ".tmp";
  const std::string text = Serialize();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) {
    if (error) *error = Errno("open " + tmp);
    return false;
  }
  const char* p = text.data();
  std::size_t left = text.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (error) *error = Errno("write " + tmp);
      ::close(fd);
      return false;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    if (error) *error = Errno("fsync " + tmp);
    ::close(fd);
    return false;
  }
  if (::close(fd) != 0) {
    if (error) *error = Errno("close " + tmp);
    return false;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    if (error) *error = Errno("rename " + tmp);
    return false;
  }
  std::string dir = ".";
  if (auto slash = path.rfind('/'); slash != std::string::npos) {
    dir = slash == 0 ? "/" : path.substr(0, slash);
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return true;
}

bool TlsFailureMemory::Load(const std::string& path, std::size_t* loaded, std::string* error) {
  if (loaded) *loaded = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (::access(path.c_str(), F_OK) != 0) return true;  // no file yet: nothing remembered
    if (error) *error = Errno("open " + path);
    return false;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const std::size_t n = Deserialize(ss.str());
  if (loaded) *loaded = n;
  return true;
}

}  // namespace outpost::delivery
