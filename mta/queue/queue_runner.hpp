// Drives a QueueManager from an asio io_context: runs QueueManager::RunDue() when work arrives
// (deliverer callbacks, new mail, spool commit handlers posted from the spool's thread) and arms
// one asio::steady_timer for QueueManager::NextWake().
//
// Thread-safety: not thread-safe, except that the poster it installs may be called from any
// thread (asio::post).
#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include "mta/queue/queue_manager.hpp"

namespace outpost::queue {

// Thread-safety: see the header comment.
class QueueRunner {
 public:
  QueueRunner(asio::io_context& io, QueueManager& manager);
  // Installs the manager's wake hook and poster and runs once.
  void Start();
  // Asks for a RunDue() soon (coalesced).
  void Kick();
  void Stop();

 private:
  void RunAndArm();

  asio::io_context& io_;
  QueueManager& manager_;
  asio::steady_timer timer_;
  bool posted_ = false;
  bool stopped_ = false;
};

}  // namespace outpost::queue
