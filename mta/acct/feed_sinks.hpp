// The two consumers of an accounting feed (acct_feed.hpp).
//
// WebhookSink: POSTs a batch as one JSON array, one object per record whose keys are the field
// names of the file's header and whose values are the record's fields as strings (an empty field
// is an empty string; a record shorter than the header leaves the missing keys out). Content-Type
// application/json. Any 2xx accepts the batch; anything else (another status, a refused
// connection, a timeout) fails it, and the feed sends it again after its backoff.
//
// PipeSink: runs PROGRAM (no shell, no arguments) with the CSV stream on its standard input: a
// header line first, then the records exactly as the file has them; a batch from a file with
// another header (the configuration changed) is preceded by that header. Its standard output goes
// to /dev/null, its standard error to outpostd's. A batch counts as taken once the program has read
// all of it out of the pipe (nothing left unread in the pipe), so a program that dies loses
// nothing: its successor gets the unacknowledged batch again, after its header. When the program
// has exited (or a write fails), Send() fails and the feed's backoff spaces the restarts; each
// start after the first is counted (restarts) and logged with the exit status. A slow program
// slows only its feed thread: the AccountingWriter never waits for it.
//
// Thread-safety: Send() from the feed's one thread; Stop() from any thread; restarts() any.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mta/acct/acct_feed.hpp"

namespace outpost::acct {

// The JSON body for `batch` (exposed for tests).
std::string BatchJson(const Batch& batch);

class WebhookSink final : public FeedSink {
 public:
  // `ca_file`: for https://, the CA certificates the server's must chain to ("" = the system's).
  WebhookSink(const std::string& url, std::chrono::seconds timeout,
              const std::string& ca_file = "");
  ~WebhookSink() override;
  bool Send(const Batch& batch, std::string* error) override;
  void Stop() override;  // ends a POST in progress

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class PipeSink final : public FeedSink {
 public:
  explicit PipeSink(std::string program);
  ~PipeSink() override;
  bool Send(const Batch& batch, std::string* error) override;
  void Stop() override;
  std::uint64_t restarts() const override { return restarts_.load(std::memory_order_relaxed); }
  pid_t pid() const { return pid_.load(std::memory_order_relaxed); }

 private:
  bool Spawn(std::string* error);
  bool Alive(std::string* error);
  bool WriteAll(const std::string& data, std::string* error);
  bool WaitDrained(std::string* error);
  void Retire(std::string* error);
  void Close();

  const std::string program_;
  int fd_ = -1;  // the write end of the program's standard input
  std::atomic<pid_t> pid_{-1};
  std::string header_sent_;
  std::uint64_t starts_ = 0;
  std::atomic<std::uint64_t> restarts_{0};
  std::atomic<bool> stopping_{false};
};

// Runs one feed on its own thread until destroyed (which stops the sink and joins).
class FeedRunner {
 public:
  explicit FeedRunner(std::unique_ptr<AcctFeed> feed);
  ~FeedRunner();
  const AcctFeed& feed() const { return *feed_; }

 private:
  void Run();
  std::unique_ptr<AcctFeed> feed_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// Creates SPOOL/acct-feed when any <acct-file> has a webhook or a pipe (before the accounting
// files are opened: the pipe's buffer lives there).
bool PrepareFeeds(const config::Config& config, std::string* error);
// One running feed per <acct-file> with a webhook-url or a |PROGRAM. Positions are kept in
// SPOOL/acct-feed. Empty + *error when a saved position is unreadable.
std::vector<std::unique_ptr<FeedRunner>> StartFeeds(const config::Config& config,
                                                    const Clock& clock, std::string* error);

}  // namespace outpost::acct
