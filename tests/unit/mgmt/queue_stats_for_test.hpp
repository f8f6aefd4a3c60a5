// One queue's figures as the scheduler's snapshot reports them, for the status renderers' tests.
#pragma once

#include <cstdint>
#include <string>

#include "mta/queue/queue_manager.hpp"

namespace outpost::mgmt {

inline queue::QueueStats QueueStatsFor(const std::string& name, const std::string& mode,
                                       std::uint64_t recipients, std::uint64_t connections,
                                       bool paused = false, const std::string& last_error = "") {
  queue::QueueStats q;
  q.name = name;
  q.mode = mode;
  q.recipients = recipients;
  q.messages = recipients;
  q.connections = connections;
  q.paused = paused;
  q.last_error = last_error;
  return q;
}

}  // namespace outpost::mgmt
