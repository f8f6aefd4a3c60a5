// WorkPool: the bounded worker pool of mta/delivery/work_pool.hpp, with a real asio io_context as
// the loop (the test's thread runs it). Each case checks one promise of the header: `work` runs on
// a pool thread and `done` on the loop; with one thread jobs start and finish in submission order;
// with several every job runs once; no more than `capacity` jobs are ever admitted, the rest wait
// on the loop and all run in the end; Stop() with queued work drops it (nothing runs, what it
// captured is released) and returns once the running job is done; the load figures count what
// happened.
#include "mta/delivery/work_pool.hpp"

#include <gtest/gtest.h>

#include <asio.hpp>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace outpost::delivery {
namespace {

// A gate the test opens; pool threads wait on it inside `work` (no sleeps: a condition).
class Gate {
 public:
  void Wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    ++waiting_;
    changed_.notify_all();
    changed_.wait(lock, [this] { return open_; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  // Blocks until `n` threads are waiting at the gate.
  void AwaitWaiters(int n) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return waiting_ >= n; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int waiting_ = 0;
  bool open_ = false;
};

class WorkPoolTest : public ::testing::Test {
 protected:
  WorkPool::Post Poster() {
    return [this](std::function<void()> f) { asio::post(io_, std::move(f)); };
  }
  // Runs the loop until `n` completions have run on it.
  void RunUntil(const int& counter, int n) {
    while (counter < n) {
      io_.restart();
      io_.run_one();
    }
  }
  asio::io_context io_{1};
};

TEST_F(WorkPoolTest, WorkRunsOffTheLoopAndDoneOnIt) {
  WorkPool pool(2, 8, Poster());
  const std::thread::id loop = std::this_thread::get_id();
  auto work_thread = std::make_shared<std::thread::id>();
  std::thread::id done_thread;
  int completions = 0;
  pool.Submit([work_thread] { *work_thread = std::this_thread::get_id(); },
              [&] {
                done_thread = std::this_thread::get_id();
                ++completions;
              });
  RunUntil(completions, 1);
  EXPECT_NE(*work_thread, loop);
  EXPECT_EQ(done_thread, loop);
}

TEST_F(WorkPoolTest, OneThreadFinishesInSubmissionOrder) {
  WorkPool pool(1, 4, Poster());
  std::vector<int> finished;
  int completions = 0;
  for (int i = 0; i < 20; ++i) {  // more than the capacity: some wait on the loop
    pool.Submit([] {},
                [&, i] {
                  finished.push_back(i);
                  ++completions;
                });
  }
  RunUntil(completions, 20);
  std::vector<int> expected(20);
  for (int i = 0; i < 20; ++i) expected[i] = i;
  EXPECT_EQ(finished, expected);
}

TEST_F(WorkPoolTest, SeveralThreadsRunEveryJobOnce) {
  WorkPool pool(3, 3, Poster());
  std::mutex mutex;
  std::vector<int> ran(30, 0);
  std::vector<int> done(30, 0);
  int completions = 0;
  for (int i = 0; i < 30; ++i) {
    pool.Submit(
        [&, i] {
          std::lock_guard<std::mutex> lock(mutex);
          ++ran[i];
        },
        [&, i] {
          ++done[i];
          ++completions;
        });
  }
  RunUntil(completions, 30);
  EXPECT_EQ(ran, std::vector<int>(30, 1));
  EXPECT_EQ(done, std::vector<int>(30, 1));
}

TEST_F(WorkPoolTest, BackPressureBoundsTheQueue) {
  constexpr int kThreads = 2;
  constexpr int kCapacity = 5;
  constexpr int kJobs = 40;
  WorkPool pool(kThreads, kCapacity, Poster());
  Gate gate;
  int completions = 0;
  for (int i = 0; i < kJobs; ++i) {
    pool.Submit([&] { gate.Wait(); }, [&] { ++completions; });
  }
  gate.AwaitWaiters(kThreads);  // both threads are inside a job
  WorkPoolStats s = pool.Stats();
  EXPECT_EQ(s.running, 2u);
  EXPECT_EQ(s.queued, static_cast<std::uint64_t>(kCapacity - kThreads));
  EXPECT_EQ(s.waiting, static_cast<std::uint64_t>(kJobs - kCapacity));
  EXPECT_EQ(s.capacity, static_cast<std::uint64_t>(kCapacity));
  gate.Open();
  // While draining, never more than kCapacity admitted: queued + running stays within it.
  while (completions < kJobs) {
    io_.restart();
    io_.run_one();
    s = pool.Stats();
    EXPECT_LE(s.queued + s.running, static_cast<std::uint64_t>(kCapacity));
  }
  s = pool.Stats();
  EXPECT_EQ(s.waiting, 0u);
  EXPECT_EQ(s.queued, 0u);
  EXPECT_EQ(s.done, static_cast<std::uint64_t>(kJobs));
}

TEST_F(WorkPoolTest, StopDropsQueuedWorkAndReleasesIt) {
  auto pool = std::make_unique<WorkPool>(1, 4, Poster());
  Gate gate;
  std::atomic<int> first_ran{0};
  std::atomic<int> queued_ran{0};
  int waiting_ran = 0;  // jobs that never left the loop's wait list: only the loop could start them
  int completions = 0;
  auto token = std::make_shared<int>(0);  // captured by every job but the first
  pool->Submit(
      [&] {
        gate.Wait();
        ++first_ran;
      },
      [&] { ++completions; });
  for (int i = 0; i < 3; ++i) {  // fills the pool's queue (capacity 4)
    pool->Submit([&, token] { ++queued_ran; }, [&, token] { ++completions; });
  }
  for (int i = 0; i < 7; ++i) {  // wait on the loop
    pool->Submit([&, token] { ++waiting_ran; }, [&, token] { ++completions; });
  }
  gate.AwaitWaiters(1);
  EXPECT_EQ(pool->Stats().waiting, 7u);
  EXPECT_EQ(token.use_count(), 21);  // each of 10 jobs holds it twice (work and done)
  std::thread opener([&] { gate.Open(); });
  pool->Stop();  // returns once the running job is done; what has not started is dropped
  opener.join();
  EXPECT_EQ(first_ran.load(), 1);
  // The worker may take a queued job between the gate opening and Stop() taking the queue; the
  // jobs waiting on the loop can only start when a completion runs on the loop, which it did not.
  EXPECT_LE(queued_ran.load(), 3);
  EXPECT_EQ(waiting_ran, 0);
  pool->Submit([&] { ++waiting_ran; }, [&] { ++completions; });  // ignored after Stop
  pool.reset();
  io_.restart();
  io_.run();  // completions posted before Stop() finished are dropped, not run
  EXPECT_EQ(completions, 0);
  EXPECT_EQ(waiting_ran, 0);
  EXPECT_EQ(token.use_count(), 1);  // every job's captures are released
}

TEST_F(WorkPoolTest, LoadFigures) {
  WorkPool pool(2, 8, Poster());
  EXPECT_EQ(pool.Stats().threads, 2u);
  int completions = 0;
  for (int i = 0; i < 4; ++i) {
    pool.Submit(
        [] {
          // Busy for a measurable while without sleeping: spin on the clock for 5 ms.
          const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(5);
          while (std::chrono::steady_clock::now() < until) {
          }
        },
        [&] { ++completions; });
  }
  RunUntil(completions, 4);
  WorkPoolStats s = pool.Stats();
  EXPECT_EQ(s.done, 4u);
  EXPECT_GE(s.busy_milliseconds, 19u);
  EXPECT_GT(s.busy_permille, 0u);
  EXPECT_LE(s.busy_permille, 1000u);
}

}  // namespace
}  // namespace outpost::delivery
