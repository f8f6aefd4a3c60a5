#include "exporter/state_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace outpost::exporter {
namespace {

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

}  // namespace

bool WriteStateFile(const std::string& path, const nlohmann::json& state, std::string* error) {
  const std::string tmp = path + ".tmp";
  const std::string text = state.dump();
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (error) *error = Errno("open " + tmp);
    return false;
  }
  const char* p = text.data();
  std::size_t left = text.size();
  while (left > 0) {
    ssize_t n = write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (error) *error = Errno("write " + tmp);
      close(fd);
      return false;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (fsync(fd) != 0) {
    if (error) *error = Errno("fsync " + tmp);
    close(fd);
    return false;
  }
  if (close(fd) != 0) {
    if (error) *error = Errno("close " + tmp);
    return false;
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    if (error) *error = Errno("rename " + tmp);
    return false;
  }
  std::string dir = ".";
  if (auto slash = path.rfind('/'); slash != std::string::npos) {
    dir = slash == 0 ? "/" : path.substr(0, slash);
  }
  int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return true;
}

std::optional<nlohmann::json> ReadStateFile(const std::string& path, std::string* error) {
  if (error) error->clear();
  std::ifstream in(path);
  if (!in) {
    if (access(path.c_str(), F_OK) == 0 && error) *error = "cannot read state file " + path;
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json j = nlohmann::json::parse(ss.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.value("version", 0) != 1) {
    if (error) *error = "state file " + path + " is corrupt or of an unknown version";
    return std::nullopt;
  }
  return j;
}

}  // namespace outpost::exporter
