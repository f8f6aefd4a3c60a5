// A bounded pool of worker threads for CPU-heavy per-message work (DKIM signing), so that the
// event loop (the io thread) keeps serving sockets while the private-key operations run on the
// other cores.
//
// What it does: Submit(work, done) runs `work` on one of the pool's threads, then hands `done` to
// the `post` function given at construction (the daemon posts it to the io thread's executor), so
// `done` runs on the loop, where the caller's state lives. Whatever `work` computes it leaves in
// state captured by both functions (a shared_ptr); `work` must touch nothing the loop owns.
//
// Back-pressure: at most `capacity` jobs are admitted at once (queued, running, or finished but
// whose `done` has not run yet on the loop). A job submitted when the pool is full waits in a FIFO
// owned by the loop and is admitted when a completion frees a slot, so the pool's queue never
// grows past `capacity` and the loop never blocks. The wait list holds one job per transaction
// waiting for its signature, so it is bounded by the scheduler's open connections (each has at
// most one transaction in flight).
//
// Ordering: jobs start in submission order (one FIFO from Submit to the workers); with one thread
// they also finish, and their `done` runs, in that order. With several threads completions may
// come back in any order; callers that need an order (a connection's transactions) have at most
// one job in flight.
//
// Shutdown: Stop() (also run by the destructor) drops the jobs that have not started — their
// `work` and `done` are destroyed without running, which releases what they captured — lets the
// running ones finish, and joins the threads. A `done` posted before that may still be pending in
// the loop's executor; it runs if the loop runs again, or is destroyed with the executor. For the
// daemon a dropped job is a transaction that was never sent: its recipients stay in the spool and
// are delivered after the restart, nothing is lost.
//
// Load (Stats()): threads, capacity, jobs queued / running / waiting on the loop, jobs done, and
// the time the threads spent running jobs (in total and, as a fraction of the threads' time, since
// the previous Stats() call: the daemon reads it once a second).
//
// Thread-safety: Submit(), Stats() and Stop() are called from the loop thread only (the one that
// runs the posted `done`s). The queue between the loop and the workers is guarded by one mutex,
// held only to push or pop one job; the workers never take any other lock of ours.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace outpost::delivery {

struct WorkPoolStats {
  std::uint64_t threads = 0;
  std::uint64_t capacity = 0;           // most jobs admitted at once
  std::uint64_t queued = 0;             // admitted, not started
  std::uint64_t running = 0;            // being run by a thread
  std::uint64_t waiting = 0;            // held on the loop: the pool was full (back-pressure)
  std::uint64_t done = 0;               // jobs whose `done` has run, since start
  std::uint64_t busy_milliseconds = 0;  // time the threads spent running jobs, since start
  std::uint64_t busy_permille = 0;      // busy share of the threads' time since the last Stats()
};

class WorkPool {
 public:
  using Post = std::function<void(std::function<void()>)>;

  // `threads` >= 1; `capacity` >= `threads` (smaller values are raised to it). `post` must be
  // callable from any thread and run what it is given on the loop thread.
  WorkPool(std::size_t threads, std::size_t capacity, Post post);
  ~WorkPool();
  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  // The default capacity for `threads` workers: enough queued work to keep every thread busy
  // while the loop collects completions.
  static std::size_t DefaultCapacity(std::size_t threads) { return threads * 4; }
  // The machine's core count (at least 1): the default number of threads.
  static std::size_t CoreCount();

  void Submit(std::function<void()> work, std::function<void()> done);
  std::size_t threads() const { return threads_.size(); }
  void Stop();
  WorkPoolStats Stats();

 private:
  struct Job {
    std::function<void()> work;
    std::function<void()> done;
  };
  void Admit(Job job);
  void Finished(std::function<void()> done);  // on the loop
  void WorkerLoop();

  const std::size_t capacity_;
  const Post post_;
  // Loop-owned.
  std::size_t admitted_ = 0;
  std::deque<Job> waiting_;
  std::uint64_t done_ = 0;
  std::chrono::steady_clock::time_point last_sample_ = std::chrono::steady_clock::now();
  std::uint64_t last_busy_ns_ = 0;
  bool stopped_ = false;
  // Shared with the workers.
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> queue_;  // guarded by mutex_
  bool stopping_ = false;  // guarded by mutex_
  std::atomic<std::uint64_t> running_{0};
  std::atomic<std::uint64_t> busy_ns_{0};
  // Completions hold a weak reference: one that reaches the loop after Stop() is dropped (its
  // `done` is destroyed without running). Reset by Stop() once the threads are joined.
  std::shared_ptr<char> alive_ = std::make_shared<char>();
  std::vector<std::thread> threads_;
};

}  // namespace outpost::delivery
