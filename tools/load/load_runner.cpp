#include "tools/load/load_runner.hpp"

#include <unistd.h>

#include <asio.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>

namespace outpost::load {
namespace {

using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

struct Reply {
  int code = 0;  // 0: connection lost or timed out
  std::string text;
};

// State shared by all sessions (one thread, no locks).
struct Shared {
  const LoadOptions& options;
  LoadReport& report;
  asio::io_context& io;
  tcp::resolver::results_type endpoints;
  DomainPicker picker;
  std::optional<std::uint64_t> budget;
  Clock::time_point start, stop_at;
  Clock::time_point next_slot;
  std::uint64_t next_seq = 0;
  std::string run_id;
  std::ofstream ids;
  int sessions_running = 0;

  // Claims the next message number, or nullopt when the run is over.
  std::optional<std::uint64_t> Claim() {
    if (budget && next_seq >= *budget) return std::nullopt;
    if (options.duration && Clock::now() >= stop_at) return std::nullopt;
    return ++next_seq;
  }
};

class ClientSession {
 public:
  explicit ClientSession(Shared& shared) : s_(shared), socket_(shared.io), watchdog_(shared.io) {}

  asio::awaitable<void> Run() {
    int failures = 0;
    auto backoff = std::chrono::milliseconds(50);
    while (!Done()) {
      ConnectResult r = co_await Connect();
      if (r == ConnectResult::kFailed) {
        if (++failures >= 5) break;
        asio::steady_timer t(s_.io, backoff);
        std::error_code ec;
        co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
        continue;
      }
      failures = 0;
      backoff = std::chrono::milliseconds(50);
      co_await Converse();
      Close();
    }
    Close();
    --s_.sessions_running;
  }

 private:
  enum class ConnectResult { kOk, kFailed };

  bool Done() const {
    if (s_.budget && s_.next_seq >= *s_.budget) return true;
    return s_.options.duration && Clock::now() >= s_.stop_at;
  }

  void Close() {
    std::error_code ec;
    socket_.close(ec);
    watchdog_.cancel();
    in_.clear();
  }

  void Error(const char* kind) { ++s_.report.errors[kind]; }

  // Arms the per-reply timeout: when it fires the socket is closed and the read fails.
  void Arm() {
    watchdog_.expires_after(s_.options.timeout);
    watchdog_.async_wait([this](const std::error_code& ec) {
      if (!ec) {
        timed_out_ = true;
        std::error_code ignored;
        socket_.close(ignored);
      }
    });
  }

  asio::awaitable<ConnectResult> Connect() {
    std::error_code ec;
    timed_out_ = false;
    socket_ = tcp::socket(s_.io);
    Arm();
    co_await asio::async_connect(socket_, s_.endpoints,
                                 asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      watchdog_.cancel();
      Error(timed_out_ ? "timeout" : "connect");
      co_return ConnectResult::kFailed;
    }
    ++s_.report.connections;
    socket_.set_option(tcp::no_delay(true), ec);
    Reply greeting = co_await ReadReply();
    if (greeting.code / 100 != 2) {
      Error(greeting.code == 0 ? "connection_lost" : "greeting");
      Close();
      co_return ConnectResult::kFailed;
    }
    if (!co_await Write("EHLO " + s_.options.helo + "\r\n")) co_return ConnectResult::kFailed;
    Reply ehlo = co_await ReadReply();
    if (ehlo.code != 250) {
      Error(ehlo.code == 0 ? "connection_lost" : "ehlo");
      Close();
      co_return ConnectResult::kFailed;
    }
    pipelining_ = s_.options.pipelining && ehlo.text.find("PIPELINING") != std::string::npos;
    co_return ConnectResult::kOk;
  }

  asio::awaitable<bool> Write(const std::string& data) {
    std::error_code ec;
    co_await asio::async_write(socket_, asio::buffer(data),
                               asio::redirect_error(asio::use_awaitable, ec));
    co_return !ec;
  }

  // Reads one (possibly multi-line) reply; code 0 on EOF, error or timeout.
  asio::awaitable<Reply> ReadReply() {
    Reply reply;
    Arm();
    while (true) {
      std::error_code ec;
      std::size_t n =
          co_await asio::async_read_until(socket_, asio::dynamic_buffer(in_, 1 << 20), '\n',
                                          asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        watchdog_.cancel();
        co_return Reply{};
      }
      std::string line = in_.substr(0, n);
      in_.erase(0, n);
      while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
      if (line.size() < 3) continue;
      reply.text += line.substr(line.size() > 3 ? 4 : 3) + "\n";
      if (line.size() == 3 || line[3] != '-') {
        reply.code = std::atoi(line.substr(0, 3).c_str());
        break;
      }
    }
    watchdog_.cancel();
    co_return reply;
  }

  // Counts a reply; returns false when the connection is unusable (lost, or 421).
  bool Count(const Reply& r, std::map<int, std::uint64_t>* stage) {
    if (r.code == 0) return false;
    ++s_.report.replies[r.code];
    if (stage != nullptr) ++(*stage)[r.code];
    return r.code != 421;
  }

  asio::awaitable<void> WaitForRateSlot() {
    if (s_.options.rate <= 0) co_return;
    auto now = Clock::now();
    auto slot = std::max(now, s_.next_slot);
    s_.next_slot = slot + std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double>(1.0 / s_.options.rate));
    if (slot > now) {
      asio::steady_timer t(s_.io, slot);
      std::error_code ec;
      co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }

  asio::awaitable<void> Converse() {
    std::uint64_t sent_here = 0;
    while (true) {
      if (s_.options.msgs_per_conn > 0 && sent_here >= s_.options.msgs_per_conn) break;
      co_await WaitForRateSlot();
      auto seq = s_.Claim();
      if (!seq) break;
      ++sent_here;
      if (!co_await Transaction(*seq)) co_return;  // connection unusable
    }
    if (co_await Write("QUIT\r\n")) co_await ReadReply();
  }

  // One message. Returns false when the connection must be dropped.
  asio::awaitable<bool> Transaction(std::uint64_t seq) {
    LoadReport& rep = s_.report;
    const LoadOptions& o = s_.options;
    std::vector<std::string> rcpts;
    for (std::uint32_t i = 0; i < o.rcpts; ++i) {
      rcpts.push_back("user" + std::to_string(seq) + "-" + std::to_string(i) + "@" +
                      s_.picker.Next());
    }
    std::string message_id = "<" + s_.run_id + "." + std::to_string(seq) + "@outpost-load.invalid>";
    ++rep.messages_attempted;
    auto started = Clock::now();
    auto failed = [&rep]() {
      ++rep.messages_failed;
      ++rep.errors["connection_lost"];
      return false;
    };

    std::string mail = "MAIL FROM:<" + o.from + "> SIZE=" + std::to_string(o.size) + "\r\n";
    std::vector<std::string> commands{mail};
    for (const auto& r : rcpts) commands.push_back("RCPT TO:<" + r + ">\r\n");
    int accepted = 0;
    bool usable = true;
    Reply data_reply;
    if (pipelining_) {
      std::string batch;
      for (const auto& c : commands) batch += c;
      batch += "DATA\r\n";
      if (!co_await Write(batch)) co_return failed();
      Reply mail_reply = co_await ReadReply();
      if (!Count(mail_reply, nullptr)) usable = false;
      for (std::size_t i = 0; i < rcpts.size(); ++i) {
        Reply r = co_await ReadReply();
        if (r.code == 0) co_return failed();
        if (!Count(r, &rep.rcpt_replies)) usable = false;
        if (r.code / 100 == 2) ++accepted;
      }
      data_reply = co_await ReadReply();
      if (mail_reply.code == 0 || data_reply.code == 0) co_return failed();
      if (!Count(data_reply, nullptr)) usable = false;
    } else {
      if (!co_await Write(mail)) co_return failed();
      Reply mail_reply = co_await ReadReply();
      if (mail_reply.code == 0) co_return failed();
      if (!Count(mail_reply, nullptr)) usable = false;
      for (std::size_t i = 0; usable && mail_reply.code / 100 == 2 && i < rcpts.size(); ++i) {
        if (!co_await Write(commands[i + 1])) co_return failed();
        Reply r = co_await ReadReply();
        if (r.code == 0) co_return failed();
        if (!Count(r, &rep.rcpt_replies)) usable = false;
        if (r.code / 100 == 2) ++accepted;
      }
      if (usable && accepted > 0) {
        if (!co_await Write("DATA\r\n")) co_return failed();
        data_reply = co_await ReadReply();
        if (data_reply.code == 0) co_return failed();
        if (!Count(data_reply, nullptr)) usable = false;
      } else if (usable) {
        if (!co_await Write("RSET\r\n")) co_return failed();
        Reply r = co_await ReadReply();
        if (r.code == 0) co_return failed();
        usable = Count(r, nullptr);
      }
    }
    rep.recipients_accepted += static_cast<std::uint64_t>(accepted);
    if (data_reply.code != 354) {
      ++rep.messages_rejected;
      co_return usable;
    }
    std::string body = BuildMessage(o.from, rcpts.front(), message_id, o.size);
    if (!co_await Write(body + ".\r\n")) co_return failed();
    Reply final_reply = co_await ReadReply();
    if (final_reply.code == 0) co_return failed();
    usable = Count(final_reply, &rep.data_replies) && usable;
    if (final_reply.code == 250) {
      ++rep.messages_accepted;
      rep.bytes_accepted += body.size();
      rep.latencies_us.push_back(static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started).count()));
      if (s_.ids.is_open()) s_.ids << message_id << "\n";
    } else {
      ++rep.messages_rejected;
    }
    co_return usable;
  }

  Shared& s_;
  tcp::socket socket_;
  asio::steady_timer watchdog_;
  std::string in_;
  bool pipelining_ = false;
  bool timed_out_ = false;
};

asio::awaitable<void> RunSession(std::shared_ptr<ClientSession> session) {
  co_await session->Run();
}

void PrintProgress(const Shared& s, bool final_line) {
  double elapsed = std::chrono::duration<double>(Clock::now() - s.start).count();
  double rate = elapsed > 0 ? static_cast<double>(s.report.messages_accepted) / elapsed : 0;
  std::fprintf(
      stderr, "\r[outpost-load] %6.1fs sent %llu ok %llu errors %llu rate %.1f msgs/s   %s",
      elapsed, static_cast<unsigned long long>(s.report.messages_attempted),
      static_cast<unsigned long long>(s.report.messages_accepted),
      static_cast<unsigned long long>(s.report.ErrorCount()), rate, final_line ? "\n" : "");
}

}  // namespace

std::string BuildMessage(const std::string& from, const std::string& to,
                         const std::string& message_id, std::uint64_t size) {
  std::string m;
  m.reserve(static_cast<std::size_t>(size) + 512);
  m += "From: <" + from + ">\r\nTo: <" + to + ">\r\nSubject: outpost-load test message\r\n";
  m += "Date: Thu, 01 Jan 2026 00:00:00 +0000\r\nMessage-ID: " + message_id + "\r\n";
  m += "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n";
  static const char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::size_t k = 0;
  while (m.size() + 2 <= size) {
    std::size_t len = std::min<std::size_t>(76, static_cast<std::size_t>(size) - m.size() - 2);
    for (std::size_t i = 0; i < len; ++i) m += kAlphabet[(k++) % (sizeof kAlphabet - 1)];
    m += "\r\n";
  }
  return m;
}

LoadReport RunLoad(const LoadOptions& options) {
  LoadReport report;
  report.target = options.host + ":" + std::to_string(options.port);
  report.sessions = options.sessions;
  asio::io_context io;
  Shared shared{options, report, io, {}, DomainPicker(options.domains), options.MessageBudget()};
  shared.start = Clock::now();
  shared.next_slot = shared.start;
  if (options.duration) shared.stop_at = shared.start + *options.duration;
  shared.run_id = std::to_string(::getpid()) + "." +
                  std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  if (!options.ids_file.empty()) {
    shared.ids.open(options.ids_file, std::ios::app);
    if (!shared.ids) ++report.errors["ids_file"];
  }
  std::error_code ec;
  tcp::resolver resolver(io);
  shared.endpoints = resolver.resolve(options.host, std::to_string(options.port), ec);
  if (ec) {
    ++report.errors["resolve"];
    return report;
  }
  std::vector<std::shared_ptr<ClientSession>> sessions;
  for (std::uint32_t i = 0; i < options.sessions; ++i) {
    sessions.push_back(std::make_shared<ClientSession>(shared));
    ++shared.sessions_running;
    asio::co_spawn(io, RunSession(sessions.back()), asio::detached);
  }
  const bool progress = ::isatty(2) != 0;
  asio::steady_timer ticker(io);
  std::function<void(const std::error_code&)> tick = [&](const std::error_code& e) {
    if (e || shared.sessions_running == 0) return;
    PrintProgress(shared, false);
    ticker.expires_after(std::chrono::seconds(1));
    ticker.async_wait(tick);
  };
  if (progress) {
    ticker.expires_after(std::chrono::seconds(1));
    ticker.async_wait(tick);
  }
  // The ticker must not keep the run alive: run until the sessions finish.
  while (shared.sessions_running > 0 && io.run_one() > 0) {
  }
  ticker.cancel();
  if (progress) PrintProgress(shared, true);
  report.elapsed_seconds = std::chrono::duration<double>(Clock::now() - shared.start).count();
  if (shared.ids.is_open()) shared.ids.flush();
  return report;
}

}  // namespace outpost::load
