#include "mta/smtp/pickup_dir.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <cerrno>
#include <cstring>
#include <deque>
#include <set>

#include "common/cidr.hpp"
#include "mta/log/log.hpp"
#include "mta/smtp/pickup_file.hpp"

namespace outpost::smtp {

namespace {

// A name a writer may still be writing under (pickup_dir.hpp, "Which files").
bool Candidate(const std::string& name) {
  if (name.empty() || name.front() == '.') return false;
  return !(name.size() >= 4 && name.compare(name.size() - 4, 4, ".tmp") == 0);
}

// Reads the whole regular file at `path` into `out`: 0, or the errno (EINVAL: not a regular
// file).
int ReadWhole(const std::string& path, std::string& out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return errno;
  struct stat st {};
  int err = ::fstat(fd, &st) != 0 ? errno : (S_ISREG(st.st_mode) ? 0 : EINVAL);
  out.clear();
  std::array<char, 65536> buffer;
  while (err == 0) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) err = errno;
    if (n <= 0) break;
    out.append(buffer.data(), static_cast<std::size_t>(n));
  }
  ::close(fd);
  return err;
}

// Moves `name` from `dir` to `bad_dir`, never over an existing file; the new path, or "" (and
// `error`).
std::string MoveAside(const PickupDir& d, const std::string& name, std::string& error) {
  const std::string from = d.dir + "/" + name;
  for (int n = 0; n < 1000; ++n) {
    const std::string to = d.bad_dir + "/" + name + (n == 0 ? "" : "." + std::to_string(n));
    struct stat st {};
    if (::lstat(to.c_str(), &st) == 0) continue;
    if (::rename(from.c_str(), to.c_str()) == 0) return to;
    error = std::strerror(errno);
    return "";
  }
  error = "too many files of that name in the bad directory";
  return "";
}

// Why no recipient of a submission was taken, for the log.
std::string Refusals(const SubmitOutcome& outcome) {
  std::string why = outcome.error;
  for (const RecipientVerdict& v : outcome.recipients) {
    if (v.accepted()) continue;
    if (!why.empty()) why += "; ";
    why += "<" + v.address + ">: " + std::to_string(v.code) + " " + v.text;
  }
  return why;
}

}  // namespace

struct PickupWatcher::State : std::enable_shared_from_this<PickupWatcher::State> {
  struct Item {
    std::size_t dir;
    std::string name;
  };

  State(asio::io_context& io_context, std::vector<PickupDir> directories, std::uint64_t max,
        PickupSubmit submitter, std::chrono::milliseconds every)
      : io(io_context),
        dirs(std::move(directories)),
        max_size(max),
        submit(std::move(submitter)),
        rescan(every),
        events(io_context),
        timer(io_context) {}

  asio::io_context& io;
  std::vector<PickupDir> dirs;
  std::uint64_t max_size;
  PickupSubmit submit;
  std::chrono::milliseconds rescan;
  asio::posix::stream_descriptor events;
  asio::steady_timer timer;
  std::vector<int> watches;  // inotify watch descriptor of each dir
  std::array<char, 8192> event_buffer{};
  std::deque<Item> pending;
  std::set<std::string> queued;   // paths in `pending` or being taken
  std::set<std::string> ignored;  // paths that could not be read or moved: left until restart
  bool busy = false;
  bool deferring = false;  // the spool refused: wait for the next rescan
  bool stopped = false;
  PickupStats stats;

  void Scan(std::size_t d) {
    DIR* handle = ::opendir(dirs[d].dir.c_str());
    if (handle == nullptr) {
      OUTPOST_LOG(kError, "pickup")
          << "cannot read " << dirs[d].dir << ": " << std::strerror(errno);
      return;
    }
    std::vector<std::string> names;
    while (const dirent* e = ::readdir(handle)) {
      const std::string name = e->d_name;
      const std::string path = dirs[d].dir + "/" + name;
      if (Candidate(name) && !queued.count(path) && !ignored.count(path)) names.push_back(name);
    }
    ::closedir(handle);
    std::sort(names.begin(), names.end());
    for (std::string& name : names) {
      queued.insert(dirs[d].dir + "/" + name);
      pending.push_back(Item{d, std::move(name)});
    }
    Pump();
  }

  void ScanAll() {
    for (std::size_t d = 0; d < dirs.size(); ++d) Scan(d);
  }

  void Pump() {
    if (stopped || busy || deferring || pending.empty()) return;
    Item item = std::move(pending.front());
    pending.pop_front();
    busy = true;
    Take(item);
  }

  // The file is done with (taken, moved or left): the next one.
  void Done(const Item& item) {
    queued.erase(dirs[item.dir].dir + "/" + item.name);
    busy = false;
    asio::post(io, [self = shared_from_this()] { self->Pump(); });
  }

  void Take(const Item& item) {
    const std::string path = dirs[item.dir].dir + "/" + item.name;
    std::string raw;
    if (const int err = ReadWhole(path, raw); err != 0) {
      // Gone already (taken by hand, or a rename away): nothing to do.
      if (err != ENOENT) Ignore(path, std::string("cannot read it: ") + std::strerror(err));
      return Done(item);
    }
    PickupMessage parsed = ParsePickupFile(raw, max_size);
    if (!parsed.error.empty()) return Reject(item, parsed.error);
    Submission s;
    s.mail_from = std::move(parsed.mail_from);
    s.recipients = std::move(parsed.recipients);
    s.content = std::move(parsed.content);
    s.client_ip = IpAddress::Parse("127.0.0.1").value_or(IpAddress{});
    s.client_name = "pickup";
    s.protocol = "local";
    s.src_type = "pickup";
    submit(std::move(s), [self = shared_from_this(), item](SubmitOutcome outcome) {
      self->Submitted(item, outcome);
    });
  }

  void Submitted(const Item& item, const SubmitOutcome& outcome) {
    const std::string path = dirs[item.dir].dir + "/" + item.name;
    switch (outcome.status) {
      case SubmitOutcome::Status::kAccepted:
        ++stats.accepted;
        // The message is durable: the file may go. Not there any more is not an error.
        if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
          Ignore(path, "queued as " + outcome.id + " but cannot delete it (" +
                           std::strerror(errno) + "); remove it by hand or it is sent again");
        }
        return Done(item);
      case SubmitOutcome::Status::kUnavailable:
        ++stats.deferred;
        OUTPOST_LOG(kWarning, "pickup") << path << ": left for later: " << outcome.error;
        deferring = true;
        return Done(item);
      case SubmitOutcome::Status::kNoneAccepted:
      case SubmitOutcome::Status::kRefused:
        return Reject(item, Refusals(outcome));
    }
  }

  void Reject(const Item& item, const std::string& why) {
    std::string error;
    const std::string to = MoveAside(dirs[item.dir], item.name, error);
    const std::string path = dirs[item.dir].dir + "/" + item.name;
    if (to.empty()) {
      Ignore(path, why + "; cannot move it to " + dirs[item.dir].bad_dir + ": " + error);
    } else {
      ++stats.bad;
      OUTPOST_LOG(kWarning, "pickup") << path << ": " << why << "; moved to " << to;
    }
    Done(item);
  }

  void Ignore(const std::string& path, const std::string& why) {
    ++stats.errors;
    ignored.insert(path);
    OUTPOST_LOG(kError, "pickup") << path << ": " << why << "; left in place until restart";
  }

  void WaitEvents() {
    events.async_read_some(asio::buffer(event_buffer),
                           [self = shared_from_this()](std::error_code ec, std::size_t n) {
                             if (ec || self->stopped) return;
                             self->OnEvents(n);
                             self->WaitEvents();
                           });
  }

  void OnEvents(std::size_t n) {
    std::set<std::size_t> touched;
    bool overflow = false;
    for (std::size_t at = 0; at + sizeof(inotify_event) <= n;) {
      inotify_event e;
      std::memcpy(&e, event_buffer.data() + at, sizeof e);
      at += sizeof(inotify_event) + e.len;
      overflow = overflow || (e.mask & IN_Q_OVERFLOW) != 0;
      for (std::size_t d = 0; d < watches.size(); ++d) {
        if (watches[d] == e.wd) touched.insert(d);
      }
    }
    if (deferring) return;  // the next rescan tries again
    if (overflow) return ScanAll();
    for (std::size_t d : touched) Scan(d);
  }

  void WaitRescan() {
    timer.expires_after(rescan);
    timer.async_wait([self = shared_from_this()](std::error_code ec) {
      if (ec || self->stopped) return;
      self->deferring = false;
      self->ScanAll();
      self->WaitRescan();
    });
  }
};

PickupWatcher::PickupWatcher(asio::io_context& io, std::vector<PickupDir> dirs,
                             std::uint64_t max_size, PickupSubmit submit,
                             std::chrono::milliseconds rescan)
    : state_(std::make_shared<State>(io, std::move(dirs), max_size, std::move(submit), rescan)) {}

PickupWatcher::~PickupWatcher() { Stop(); }

bool PickupWatcher::Start(std::string* error) {
  State& st = *state_;
  const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    if (error) *error = std::string("inotify: ") + std::strerror(errno);
    return false;
  }
  st.events.assign(fd);
  for (const PickupDir& d : st.dirs) {
    const int wd = ::inotify_add_watch(fd, d.dir.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO);
    if (wd < 0) {
      if (error) *error = "pickup " + d.dir + ": " + std::strerror(errno);
      return false;
    }
    st.watches.push_back(wd);
    OUTPOST_LOG(kInfo, "pickup") << "watching " << d.dir << " (unusable files go to " << d.bad_dir
                                 << ")";
  }
  st.WaitEvents();
  st.WaitRescan();
  st.ScanAll();
  return true;
}

void PickupWatcher::Stop() {
  State& st = *state_;
  st.stopped = true;
  std::error_code ec;
  st.timer.cancel();
  st.events.close(ec);
}

void PickupWatcher::SetMaxSize(std::uint64_t max_size) { state_->max_size = max_size; }

PickupStats PickupWatcher::Stats() const { return state_->stats; }

}  // namespace outpost::smtp
