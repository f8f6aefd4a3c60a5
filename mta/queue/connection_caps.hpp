// The scheduler's caps on outbound connections above the queue: a virtual MTA's own total
// (`max-smtp-out` in <virtual-mta>) and outpostd's total (`total-max-smtp-out`).
//
// A queue asks Allows() before it opens a connection; Opened() and Closed() keep the counts (a
// connection counts from StartConnect until the Deliverer reports its socket closed, as for the
// queue's own max-smtp-out). A queue refused a slot calls Wait(); the queues waiting are handed
// back by Closed() so the scheduler pumps them again (all of them: the first to pump takes the
// slot, the others wait again).
//
// Thread-safety: not thread-safe; the scheduler's thread only.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "mta/config/config.hpp"

namespace outpost::queue {

class ConnectionCaps {
 public:
  // Reads the caps (reload: counts and waiting queues are kept).
  void SetConfig(const config::Config& config);
  bool Allows(const std::string& vmta) const;
  void Opened(const std::string& vmta);
  // Returns the queues that waited for a slot (and forgets them).
  std::vector<std::uint32_t> Closed(const std::string& vmta);
  // Queue `queue` waits for a slot; true when it was not waiting yet.
  bool Wait(std::uint32_t queue);
  bool HasWaiting() const { return !waiting_.empty(); }
  bool IsWaiting(std::uint32_t queue) const;
  bool TotalFull() const { return total_cap_ > 0 && total_ >= total_cap_; }

  int total() const { return total_; }
  int Of(const std::string& vmta) const;

 private:
  int total_cap_ = 0;                               // 0: no cap
  std::unordered_map<std::string, int> vmta_caps_;  // only virtual MTAs with a cap
  int total_ = 0;
  std::unordered_map<std::string, int> open_;  // per virtual MTA
  std::vector<std::uint32_t> waiting_;
};

}  // namespace outpost::queue
