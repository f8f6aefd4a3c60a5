#include "mta/queue/connection_caps.hpp"

#include <algorithm>

#include "common/invariant.hpp"

namespace outpost::queue {

void ConnectionCaps::SetConfig(const config::Config& config) {
  total_cap_ = config.total_max_smtp_out;
  vmta_caps_.clear();
  for (const config::VirtualMta& v : config.virtual_mtas) {
    if (v.max_smtp_out > 0) vmta_caps_[v.name] = v.max_smtp_out;
  }
}

int ConnectionCaps::Of(const std::string& vmta) const {
  auto it = open_.find(vmta);
  return it == open_.end() ? 0 : it->second;
}

bool ConnectionCaps::Allows(const std::string& vmta) const {
  if (TotalFull()) return false;
  auto cap = vmta_caps_.find(vmta);
  return cap == vmta_caps_.end() || Of(vmta) < cap->second;
}

void ConnectionCaps::Opened(const std::string& vmta) {
  ++total_;
  ++open_[vmta];
}

std::vector<std::uint32_t> ConnectionCaps::Closed(const std::string& vmta) {
  auto it = open_.find(vmta);
  if (OUTPOST_INVARIANT(it != open_.end() && it->second > 0 && total_ > 0,
                        "a closed connection was counted as open")) {
    --total_;
    if (--it->second == 0) open_.erase(it);
  }
  std::vector<std::uint32_t> woken;
  woken.swap(waiting_);
  return woken;
}

bool ConnectionCaps::IsWaiting(std::uint32_t queue) const {
  return std::find(waiting_.begin(), waiting_.end(), queue) != waiting_.end();
}

bool ConnectionCaps::Wait(std::uint32_t queue) {
  if (IsWaiting(queue)) return false;
  waiting_.push_back(queue);
  return true;
}

}  // namespace outpost::queue
