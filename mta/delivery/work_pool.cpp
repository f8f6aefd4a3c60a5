#include "mta/delivery/work_pool.hpp"

#include <algorithm>
#include <utility>

namespace outpost::delivery {

WorkPool::WorkPool(std::size_t threads, std::size_t capacity, Post post)
    : capacity_(std::max({capacity, threads, std::size_t{1}})), post_(std::move(post)) {
  threads = std::max<std::size_t>(threads, 1);
  threads_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { WorkerLoop(); });
}

WorkPool::~WorkPool() { Stop(); }

std::size_t WorkPool::CoreCount() {
  return std::max<std::size_t>(std::thread::hardware_concurrency(), 1);
}

void WorkPool::Submit(std::function<void()> work, std::function<void()> done) {
  if (stopped_) return;
  Job job{std::move(work), std::move(done)};
  if (admitted_ < capacity_ && waiting_.empty()) {
    Admit(std::move(job));
  } else {
    waiting_.push_back(std::move(job));
  }
}

void WorkPool::Admit(Job job) {
  ++admitted_;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(std::move(job));
  }
  wake_.notify_one();
}

void WorkPool::Finished(std::function<void()> done) {
  --admitted_;
  ++done_;
  done();
  // `done` may have submitted more work (or stopped the pool); admit in FIFO order what fits.
  while (!stopped_ && admitted_ < capacity_ && !waiting_.empty()) {
    Job next = std::move(waiting_.front());
    waiting_.pop_front();
    Admit(std::move(next));
  }
}

void WorkPool::WorkerLoop() {
  const std::weak_ptr<char> alive = alive_;  // copied before Stop() can reset it (it joins first)
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      running_.fetch_add(1, std::memory_order_relaxed);
    }
    const auto start = std::chrono::steady_clock::now();
    job.work();
    job.work = nullptr;  // release what the work captured here, not on the loop
    const auto spent = std::chrono::steady_clock::now() - start;
    busy_ns_.fetch_add(static_cast<std::uint64_t>(
                           std::chrono::duration_cast<std::chrono::nanoseconds>(spent).count()),
                       std::memory_order_relaxed);
    running_.fetch_sub(1, std::memory_order_relaxed);
    post_([this, alive, done = std::move(job.done)]() mutable {
      if (alive.lock()) Finished(std::move(done));
    });
  }
}

void WorkPool::Stop() {
  if (stopped_) return;
  stopped_ = true;
  std::deque<Job> dropped;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    dropped.swap(queue_);
  }
  wake_.notify_all();
  for (std::thread& t : threads_) t.join();
  alive_.reset();
  waiting_.clear();
  // `dropped` is destroyed here, on the loop, without running.
}

WorkPoolStats WorkPool::Stats() {
  WorkPoolStats s;
  s.threads = threads_.size();
  s.capacity = capacity_;
  {
    // Both under the lock, as a worker moves a job from one to the other under it.
    std::lock_guard<std::mutex> lock(mutex_);
    s.queued = queue_.size();
    s.running = running_.load(std::memory_order_relaxed);
  }
  s.waiting = waiting_.size();
  s.done = done_;
  const std::uint64_t busy_ns = busy_ns_.load(std::memory_order_relaxed);
  s.busy_milliseconds = busy_ns / 1000000;
  const auto now = std::chrono::steady_clock::now();
  const auto wall_ns = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(now - last_sample_).count());
  const std::uint64_t capacity_ns = wall_ns * std::max<std::uint64_t>(s.threads, 1);
  if (capacity_ns > 0) {
    s.busy_permille = std::min<std::uint64_t>((busy_ns - last_busy_ns_) * 1000 / capacity_ns, 1000);
  }
  last_sample_ = now;
  last_busy_ns_ = busy_ns;
  return s;
}

}  // namespace outpost::delivery
