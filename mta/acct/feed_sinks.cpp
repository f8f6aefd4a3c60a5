#include "mta/acct/feed_sinks.hpp"

#include <fcntl.h>
#include <httplib.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "mta/log/log.hpp"

extern char** environ;

namespace outpost::acct {
namespace {

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

std::string ExitText(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "stopped";
}

// SIGPIPE is blocked on the feed thread while it writes to a pipe; one raised by a write to a
// program that has gone is taken off the thread's pending set, so EPIPE is all that remains.
struct NoSigpipe {
  sigset_t old;
  NoSigpipe() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, &old);
  }
  ~NoSigpipe() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    timespec zero{};
    while (sigtimedwait(&set, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }
};

}  // namespace

std::string BatchJson(const Batch& batch) {
  nlohmann::json array = nlohmann::json::array();
  for (const auto& record : batch.records) {
    nlohmann::json object = nlohmann::json::object();
    for (std::size_t i = 0; i < record.size() && i < batch.header.size(); ++i) {
      object[batch.header[i]] = record[i];
    }
    array.push_back(std::move(object));
  }
  return array.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

struct WebhookSink::Impl {
  std::unique_ptr<httplib::Client> client;
  std::string path;
};

WebhookSink::WebhookSink(const std::string& url, std::chrono::seconds timeout,
                         const std::string& ca_file)
    : impl_(std::make_unique<Impl>()) {
  // url is http[s]://HOST[:PORT][/PATH] (checked by the configuration).
  const std::size_t slash = url.find('/', url.find("://") + 3);
  impl_->client = std::make_unique<httplib::Client>(url.substr(0, slash));
  // https: the server's certificate must chain to the CA file or the system's CAs, and name the
  // host (cpp-httplib verifies both by default; said here so it never silently changes).
  impl_->client->enable_server_certificate_verification(true);
  if (!ca_file.empty()) impl_->client->set_ca_cert_path(ca_file);
  impl_->path = slash == std::string::npos ? "/" : url.substr(slash);
  impl_->client->set_connection_timeout(timeout);
  impl_->client->set_read_timeout(timeout);
  impl_->client->set_write_timeout(timeout);
  impl_->client->set_keep_alive(true);
}

WebhookSink::~WebhookSink() = default;

void WebhookSink::Stop() { impl_->client->stop(); }

bool WebhookSink::Send(const Batch& batch, std::string* error) {
  auto result = impl_->client->Post(impl_->path, BatchJson(batch), "application/json");
  if (!result) {
    *error = "POST " + impl_->path + ": " + httplib::to_string(result.error());
    if (result.error() == httplib::Error::SSLServerVerification) {
      *error += " (the server's certificate is not trusted: webhook-ca-file)";
    }
    return false;
  }
  if (result->status < 200 || result->status > 299) {
    *error = "POST " + impl_->path + ": HTTP status " + std::to_string(result->status);
    return false;
  }
  return true;
}

PipeSink::PipeSink(std::string program) : program_(std::move(program)) {}

PipeSink::~PipeSink() { Close(); }

void PipeSink::Stop() {
  stopping_ = true;
  const pid_t pid = pid_.load();
  if (pid > 0) ::kill(pid, SIGTERM);
}

void PipeSink::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  const pid_t pid = pid_.exchange(-1);
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
}

bool PipeSink::Spawn(std::string* error) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    *error = Errno("pipe");
    return false;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[0], 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, reset;  // the program starts with no blocked and no ignored signal
  sigemptyset(&none);
  sigemptyset(&reset);
  for (int sig : {SIGPIPE, SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2, SIGCHLD}) {
    sigaddset(&reset, sig);
  }
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &reset);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  char* argv[] = {const_cast<char*>(program_.c_str()), nullptr};
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, program_.c_str(), &actions, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(fds[0]);
  if (rc != 0) {
    ::close(fds[1]);
    *error = "cannot start " + program_ + ": " + std::strerror(rc);
    return false;
  }
  fd_ = fds[1];
  pid_ = pid;
  header_sent_.clear();
  if (starts_++ > 0) restarts_++;
  OUTPOST_LOG(kInfo, "acct") << "accounting pipe " << program_ << " started (pid " << pid << ")";
  return true;
}

// False (with the reason, logged) when the program has exited; it is then reaped.
bool PipeSink::Alive(std::string* error) {
  const pid_t pid = pid_.load();
  if (pid <= 0) return false;
  int status = 0;
  if (::waitpid(pid, &status, WNOHANG) != pid) return true;
  pid_ = -1;
  ::close(fd_);
  fd_ = -1;
  *error = "accounting pipe " + program_ + " " + ExitText(status);
  OUTPOST_LOG(kWarning, "acct") << *error;
  return false;
}

bool PipeSink::WriteAll(const std::string& data, std::string* error) {
  std::size_t done = 0;
  while (done < data.size()) {
    if (stopping_) {
      *error = "stopping";
      return false;
    }
    pollfd p{fd_, POLLOUT, 0};
    if (::poll(&p, 1, 200) == 0) continue;  // a slow reader: wait (and look at stopping_)
    ssize_t w = ::write(fd_, data.data() + done, data.size() - done);
    if (w < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (w < 0) {
      *error = Errno("write to accounting pipe " + program_);
      return false;
    }
    done += static_cast<std::size_t>(w);
  }
  return true;
}

// Waits until the program has read everything written to it (or exited).
bool PipeSink::WaitDrained(std::string* error) {
  for (int unread = 1; !stopping_;) {
    if (::ioctl(fd_, FIONREAD, &unread) != 0) {
      *error = Errno("FIONREAD on accounting pipe");
      return false;
    }
    if (unread == 0) return true;
    if (!Alive(error)) return false;
    pollfd p{fd_, 0, 0};
    ::poll(&p, 1, 2);  // the pipe has no "drained" event: look again shortly
  }
  *error = "stopping";
  return false;
}

// After a failed write or wait: the program is ended (if it still runs) and reaped, and its exit
// logged; the next Send() starts a new one.
void PipeSink::Retire(std::string* error) {
  const pid_t pid = pid_.exchange(-1);
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (pid <= 0) return;
  int status = 0;
  if (::waitpid(pid, &status, WNOHANG) != pid) {
    ::kill(pid, SIGTERM);
    ::waitpid(pid, &status, 0);
  }
  *error += "; accounting pipe " + program_ + " " + ExitText(status);
  OUTPOST_LOG(kWarning, "acct") << *error;
}

bool PipeSink::Send(const Batch& batch, std::string* error) {
  NoSigpipe guard;
  if (fd_ >= 0 && !Alive(error)) return false;  // counted; the feed backs off, then restarts
  if (fd_ < 0 && !Spawn(error)) return false;
  const bool header = header_sent_ == batch.header_line || WriteAll(batch.header_line, error);
  if (header) header_sent_ = batch.header_line;
  if (!header || !WriteAll(batch.data, error) || !WaitDrained(error)) {
    if (!stopping_) Retire(error);
    return false;
  }
  return true;
}

FeedRunner::FeedRunner(std::unique_ptr<AcctFeed> feed) : feed_(std::move(feed)) {
  thread_ = std::thread([this] { Run(); });
}

FeedRunner::~FeedRunner() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  feed_->sink().Stop();
  cv_.notify_all();
  thread_.join();
}

void FeedRunner::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    lock.unlock();
    const auto wait = feed_->RunOnce();
    lock.lock();
    if (wait.count() > 0) cv_.wait_for(lock, wait, [this] { return stop_; });
  }
}

namespace {

std::string FeedDir(const config::Config& config) { return config.spool_dir + "/acct-feed"; }

std::unique_ptr<AcctFeed> MakeFeed(const config::Config& config, const config::AcctFile& file,
                                   const Clock& clock) {
  FeedOptions options;
  if (!file.pipe_program.empty()) {
    options.name = "accounting pipe " + file.pipe_program;
    options.feed = "|" + file.pipe_program;
    options.position_path = file.path + ".position";
    options.batch_interval = std::chrono::nanoseconds(0);
    options.batch_bytes = 64 * 1024;
    options.delete_consumed = true;
    return std::make_unique<AcctFeed>(file, options, std::make_unique<PipeSink>(file.pipe_program),
                                      clock);
  }
  options.name = "accounting webhook " + file.webhook_url;
  options.feed = file.path;
  // One position per (file, URL): pointing the file at another receiver starts it afresh.
  options.position_path = FeedDir(config) + "/webhook-" +
                          config::AcctFeedKey(file.path + " " + file.webhook_url) + ".position";
  options.batch_interval = file.webhook_batch_interval;
  options.batch_bytes = file.webhook_batch_size;
  options.max_backoff = file.webhook_max_backoff;
  return std::make_unique<AcctFeed>(
      file, options,
      std::make_unique<WebhookSink>(file.webhook_url, file.webhook_timeout, file.webhook_ca_file),
      clock);
}

}  // namespace

bool PrepareFeeds(const config::Config& config, std::string* error) {
  for (const auto& file : config.acct_files) {
    if (file.pipe_program.empty() && file.webhook_url.empty()) continue;
    if (::mkdir(FeedDir(config).c_str(), 0750) != 0 && errno != EEXIST) {
      *error = Errno("cannot create " + FeedDir(config));
      return false;
    }
    return true;
  }
  return true;
}

std::vector<std::unique_ptr<FeedRunner>> StartFeeds(const config::Config& config,
                                                    const Clock& clock, std::string* error) {
  std::vector<std::unique_ptr<FeedRunner>> runners;
  for (const auto& file : config.acct_files) {
    if (file.pipe_program.empty() && file.webhook_url.empty()) continue;
    auto feed = MakeFeed(config, file, clock);
    if (!feed->Start(error)) return {};
    runners.push_back(std::make_unique<FeedRunner>(std::move(feed)));
  }
  return runners;
}

}  // namespace outpost::acct
