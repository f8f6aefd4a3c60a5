#include "mta/queue/queue_runner.hpp"

#include <asio/post.hpp>

namespace outpost::queue {

QueueRunner::QueueRunner(asio::io_context& io, QueueManager& manager)
    : io_(io), manager_(manager), timer_(io) {}

void QueueRunner::Start() {
  manager_.SetWakeHook([this] { Kick(); });
  manager_.SetPoster([this](std::function<void()> task) {
    asio::post(io_, [this, task = std::move(task)] {
      if (stopped_) return;
      task();
      RunAndArm();
    });
  });
  Kick();
}

void QueueRunner::Kick() {
  if (posted_ || stopped_) return;
  posted_ = true;
  asio::post(io_, [this] {
    posted_ = false;
    RunAndArm();
  });
}

void QueueRunner::RunAndArm() {
  if (stopped_) return;
  manager_.RunDue();
  auto next = manager_.NextWake();
  if (!next) {
    timer_.cancel();
    return;
  }
  timer_.expires_at(*next);
  timer_.async_wait([this](std::error_code ec) {
    if (!ec) RunAndArm();
  });
}

void QueueRunner::Stop() {
  stopped_ = true;
  timer_.cancel();
}

}  // namespace outpost::queue
