#include "mta/queue/cold_split.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace outpost::queue {
namespace {

std::int64_t DayOf(std::int64_t unix_seconds) {
  return unix_seconds >= 0 ? unix_seconds / 86400 : (unix_seconds - 86399) / 86400;
}

std::string Key(const std::string& warm, const std::string& destination) {
  return warm + " " + destination;
}

}  // namespace

ColdSplit::ColdSplit(std::string path) : path_(std::move(path)) {}

ColdSplit::~ColdSplit() {
  if (fd_ >= 0) ::close(fd_);
}

void ColdSplit::SetConfig(const config::Config& config) {
  cold_of_.clear();
  for (const config::VirtualMta& v : config.virtual_mtas) {
    if (!v.cold_virtual_mta.empty()) cold_of_[v.name] = v.cold_virtual_mta;
  }
}

const std::string* ColdSplit::ColdOf(const std::string& warm) const {
  if (cold_of_.empty()) return nullptr;
  auto it = cold_of_.find(warm);
  return it == cold_of_.end() ? nullptr : &it->second;
}

std::optional<std::string> ColdSplit::Load(std::int64_t now_unix) {
  day_ = DayOf(now_unix);
  counts_.clear();
  if (path_.empty()) return std::nullopt;
  std::ifstream in(path_);
  if (!in) {
    if (::access(path_.c_str(), F_OK) != 0) return std::nullopt;  // no counts yet
    return path_ + ": cannot be read";
  }
  std::string line;
  bool stale = false;  // lines of another day: rewrite the file with today's only
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::int64_t day = 0;
    std::string warm, destination;
    if (words >> day >> warm >> destination && day == day_) {
      ++counts_[Key(warm, destination)];
    } else {
      stale = true;
    }
  }
  if (stale) Rewrite();
  return std::nullopt;
}

void ColdSplit::Rewrite() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640);
  if (fd_ < 0) {
    write_error_ = path_ + ": " + std::strerror(errno);
    return;
  }
  for (const auto& [key, count] : counts_) {
    for (std::uint64_t i = 0; i < count; ++i) Append(std::to_string(day_) + " " + key + "\n");
  }
}

void ColdSplit::StartDay(std::int64_t day) {
  day_ = day;
  counts_.clear();
  if (!path_.empty()) Rewrite();
}

void ColdSplit::Append(const std::string& line) {
  if (path_.empty()) return;
  if (fd_ < 0) fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd_ < 0 || ::write(fd_, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    write_error_ = path_ + ": " + std::strerror(errno);
  }
}

bool ColdSplit::Take(const std::string& warm, const std::string& destination, std::uint64_t limit,
                     std::int64_t now_unix) {
  const std::int64_t day = DayOf(now_unix);
  if (day != day_) StartDay(day);
  std::uint64_t& count = counts_[Key(warm, destination)];
  if (count >= limit) return false;
  ++count;
  Append(std::to_string(day) + " " + Key(warm, destination) + "\n");
  return true;
}

std::uint64_t ColdSplit::Today(const std::string& warm, const std::string& destination,
                               std::int64_t now_unix) const {
  if (DayOf(now_unix) != day_) return 0;
  auto it = counts_.find(Key(warm, destination));
  return it == counts_.end() ? 0 : it->second;
}

}  // namespace outpost::queue
