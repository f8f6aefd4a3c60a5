// Pickup directories (`pickup DIR BADDIR`): files dropped into DIR are injected as messages, the
// same way as HTTP submission (SmtpServer::Submit: the <source> rules of 127.0.0.1, preparation,
// spool commit, `r` records with srcType "pickup", hand-over to the queue), so DKIM, shaping and
// accounting apply to them as to SMTP mail. The file format is pickup_file.hpp's.
//
// Which files: regular files whose name does not start with '.' and does not end in ".tmp". A
// writer makes a file appear complete by writing it under such a name (or elsewhere on the same
// file system) and renaming it into DIR; a file written in place under its final name may be read
// before it is complete.
//
// When: inotify reports every file closed after writing or moved into DIR, and DIR is read again
// every `rescan` (and at start) for anything missed. Files are taken one at a time, in the order
// found.
//
// Outcome of a file:
//  * taken: its message is durable in the spool (the commit answered, as for SMTP's 250); only then
//    is the file deleted. A crash between the two leaves the file in DIR and it is injected again
//    at the next start: a duplicate, never a loss.
//  * unusable (pickup_file.hpp's reasons; every recipient refused, e.g. suppressed; an unknown
//    virtual MTA): moved to BADDIR under its own name (".1", ".2"... appended when taken), logged
//    with the reason and counted. If it cannot be moved it stays in DIR, is logged and not tried
//    again until restart.
//  * the spool refuses mail now (disk low, queue ceiling): the file stays in DIR, is counted as
//    deferred and is tried again at the next rescan.
//
// Threading: everything runs on the io_context's thread (file reads included: a file is read
// whole before it is parsed). Thread-safety: not thread-safe.
#pragma once

#include <asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mta/smtp/smtp_server.hpp"

namespace outpost::smtp {

struct PickupDir {
  std::string dir;
  std::string bad_dir;
};

struct PickupStats {
  std::uint64_t accepted = 0;  // files whose message is in the spool (file deleted)
  std::uint64_t bad = 0;       // files moved to the bad directory
  std::uint64_t deferred = 0;  // attempts left for later: the spool refused mail
  std::uint64_t errors = 0;    // files that could not be read or moved (left in place)
};

using PickupSubmit = std::function<void(Submission, SubmitDone)>;

class PickupWatcher {
 public:
  // `max_size`: the largest file taken (the max-message-size for 127.0.0.1; 0 none).
  PickupWatcher(asio::io_context& io, std::vector<PickupDir> dirs, std::uint64_t max_size,
                PickupSubmit submit,
                std::chrono::milliseconds rescan = std::chrono::milliseconds(5000));
  ~PickupWatcher();
  PickupWatcher(const PickupWatcher&) = delete;
  PickupWatcher& operator=(const PickupWatcher&) = delete;

  // Watches every directory and takes what is already there. False + error (naming the
  // directory) when one cannot be watched.
  bool Start(std::string* error);
  void Stop();
  void SetMaxSize(std::uint64_t max_size);
  PickupStats Stats() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace outpost::smtp
