#include "tools/isp-sim/smtp_sink.hpp"

#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "common/strings.hpp"

namespace outpost::isp_sim {
namespace {

using asio::ip::tcp;
constexpr std::size_t kMaxLine = 1 << 20;
// The answer of garbage-reply-ratio: no reply code, control bytes, a NUL, then CRLF.
constexpr char kGarbage[] = "\x01\xff\x7fgarbage \0 not smtp\r\n";

std::string Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

// The lower-case domain of "<user@domain> PARAMS" (or of a bare address); "" if none.
std::string RecipientDomain(std::string_view arg) {
  std::size_t lt = arg.find('<');
  std::size_t gt = arg.find('>');
  std::string_view addr = (lt != std::string_view::npos && gt != std::string_view::npos && gt > lt)
                              ? arg.substr(lt + 1, gt - lt - 1)
                              : arg.substr(0, arg.find(' '));
  std::size_t at = addr.rfind('@');
  return at == std::string_view::npos ? std::string() : AsciiLowercase(addr.substr(at + 1));
}

// The value of a SIZE=N parameter of MAIL FROM, 0 if absent.
std::uint64_t SizeParam(std::string_view arg) {
  std::string lower = AsciiLowercase(arg);
  std::size_t pos = lower.find(" size=");
  if (pos == std::string::npos) return 0;
  return std::strtoull(lower.c_str() + pos + 6, nullptr, 10);
}

}  // namespace

// One SMTP session. Owns the socket and the session's protocol state.
class SmtpSink::Session {
 public:
  Session(SmtpSink& sink, tcp::socket socket) : sink_(sink), socket_(std::move(socket)) {}

  asio::awaitable<void> Run() {
    std::error_code ec;
    auto remote = socket_.remote_endpoint(ec);
    ip_ = ec ? std::string("unknown") : remote.address().to_string();
    sink_.stats_.ConnectionOpened(ip_, std::chrono::steady_clock::now());
    co_await Converse();
    if (bound_name_ != nullptr) {
      auto& bound = sink_.stats_.Client(ip_).bound_sessions[*bound_name_];
      if (bound > 0) --bound;
    }
    sink_.stats_.ConnectionClosed(ip_);
    socket_.close(ec);
  }

 private:
  ClientCounters& Client() { return sink_.stats_.Client(ip_); }

  std::chrono::milliseconds Delay() const {
    if (bound_name_ != nullptr) return sink_.Policy(bound_).reply_delay;
    return sink_.Policy(sink_.config_.PolicyIndexFor("*")).reply_delay;
  }

  // Reads one line (without CR LF); false on EOF, error or an over-long line.
  asio::awaitable<bool> ReadLine(std::string* line) {
    std::error_code ec;
    std::size_t n =
        co_await asio::async_read_until(socket_, asio::dynamic_buffer(in_, kMaxLine), '\n',
                                        asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return false;
    std::size_t len = n - 1;
    if (len > 0 && in_[len - 1] == '\r') --len;
    line->assign(in_, 0, len);
    in_.erase(0, n);
    co_return true;
  }

  asio::awaitable<bool> Flush() {
    if (out_.empty()) co_return true;
    std::error_code ec;
    if (sink_.config_.split_replies) {
      // One write per 3 bytes (TCP_NODELAY is set): replies reach the client in pieces.
      for (std::size_t pos = 0; pos < out_.size() && !ec; pos += 3) {
        co_await asio::async_write(
            socket_, asio::buffer(out_.data() + pos, std::min<std::size_t>(3, out_.size() - pos)),
            asio::redirect_error(asio::use_awaitable, ec));
      }
    } else {
      co_await asio::async_write(socket_, asio::buffer(out_),
                                 asio::redirect_error(asio::use_awaitable, ec));
    }
    out_.clear();
    co_return !ec;
  }

  // Queues a reply after the scripted delay; flushes unless another command is already waiting.
  asio::awaitable<bool> Send(const std::string& wire, bool force_flush = false) {
    auto delay = Delay();
    if (delay.count() > 0) {
      asio::steady_timer timer(socket_.get_executor(), delay);
      std::error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    out_ += wire;
    if (force_flush || in_.find('\n') == std::string::npos) co_return co_await Flush();
    co_return true;
  }

  asio::awaitable<void> Converse() {
    const SimConfig& config = sink_.config_;
    ClientCounters& client = Client();
    if (config.max_conn_per_ip > 0 && client.connections_current > config.max_conn_per_ip) {
      ++client.connections_refused;
      co_await Send(config.max_conn_reply.Wire(), true);
      co_return;
    }
    if (sink_.silent_greeting_.Next()) {
      // No greeting at all: wait until the client gives up and closes.
      ++client.silent_greetings;
      std::string ignored_line;
      while (co_await ReadLine(&ignored_line)) {
      }
      co_return;
    }
    if (config.greeting) {
      co_await Send(config.greeting->Wire(), true);
      if (config.greeting->code >= 300) {
        ++client.connections_refused;
        co_return;
      }
    } else if (!co_await Send("220 " + config.hostname + " ESMTP outpost-isp-sim\r\n", true)) {
      co_return;
    }
    std::string line;
    while (co_await ReadLine(&line)) {
      std::string verb = AsciiLowercase(line.substr(0, line.find(' ')));
      std::string arg = line.size() > verb.size() ? line.substr(verb.size() + 1) : std::string();
      bool keep_going = true;
      if (verb == "ehlo") {
        Reset();
        keep_going = co_await Send("250-" + config.hostname + "\r\n250-PIPELINING\r\n250-SIZE " +
                                   std::to_string(config.max_message_size) +
                                   (config.starttls_fail ? "\r\n250-STARTTLS" : "") +
                                   "\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n");
      } else if (verb == "helo") {
        Reset();
        keep_going = co_await Send("250 " + config.hostname + "\r\n");
      } else if (verb == "mail") {
        keep_going = co_await Mail(arg);
      } else if (verb == "rcpt") {
        keep_going = co_await Rcpt(arg);
      } else if (verb == "data") {
        keep_going = co_await Data();
      } else if (verb == "rset") {
        Reset();
        keep_going = co_await Send("250 2.0.0 Ok\r\n");
      } else if (verb == "noop") {
        keep_going = co_await Send("250 2.0.0 Ok\r\n");
      } else if (verb == "vrfy") {
        keep_going = co_await Send("252 2.0.0 Cannot VRFY user\r\n");
      } else if (verb == "quit") {
        co_await Send("221 2.0.0 Bye\r\n", true);
        keep_going = false;
      } else if (verb == "starttls" && config.starttls_fail) {
        // The client starts its handshake; answering it with plain text fails it.
        ++Client().tls_failures;
        co_await Send("220 2.0.0 Ready to start TLS\r\n", true);
        co_await Send("this is not a TLS ServerHello\r\n", true);
        keep_going = false;
      } else if (verb == "starttls") {
        keep_going = co_await Send("454 4.7.0 TLS not available\r\n");
      } else {
        keep_going = co_await Send("502 5.5.2 Error: command not recognized\r\n");
      }
      if (!keep_going) break;
    }
  }

  void Reset() {
    in_transaction_ = false;
    rcpt_domains_.clear();
    first_block_ = -1;
  }

  asio::awaitable<bool> Mail(const std::string& arg) {
    if (in_transaction_) co_return co_await Send("503 5.5.1 Error: nested MAIL command\r\n");
    if (!IStartsWith(arg, "from:")) {
      co_return co_await Send("501 5.5.4 Syntax: MAIL FROM:<address>\r\n");
    }
    if (SizeParam(arg) > sink_.config_.max_message_size) {
      co_return co_await Send("552 5.3.4 Message size exceeds fixed limit\r\n");
    }
    in_transaction_ = true;
    co_return co_await Send("250 2.1.0 Ok\r\n");
  }

  asio::awaitable<bool> Rcpt(const std::string& arg) {
    if (!in_transaction_) co_return co_await Send("503 5.5.1 Error: need MAIL command\r\n");
    if (!IStartsWith(arg, "to:")) {
      co_return co_await Send("501 5.5.4 Syntax: RCPT TO:<address>\r\n");
    }
    std::string domain = RecipientDomain(arg.substr(3));
    if (domain.empty()) co_return co_await Send("501 5.1.3 Bad recipient address syntax\r\n");
    int block = sink_.config_.PolicyIndexFor(domain);
    const DomainPolicy& policy = sink_.Policy(block);
    ClientCounters& client = Client();
    if (bound_name_ == nullptr) {
      bound_ = block;
      bound_name_ = &policy.name;
      std::uint64_t bound = ++client.bound_sessions[policy.name];
      if (policy.max_conn_per_ip > 0 && bound > policy.max_conn_per_ip) {
        ++client.connections_refused;
        co_await Send(policy.max_conn_reply.Wire(), true);
        co_return false;
      }
    }
    RecipientCounters& per_domain = sink_.stats_.Domain(domain);
    DomainSchedules& schedules = sink_.Schedules(block);
    if (schedules.defer.Next()) {
      ++client.recipients_deferred;
      ++per_domain.recipients_deferred;
      co_return co_await Send(policy.defer_reply.Wire());
    }
    if (schedules.bounce.Next()) {
      ++client.recipients_bounced;
      ++per_domain.recipients_bounced;
      co_return co_await Send(policy.bounce_reply.Wire());
    }
    if (rcpt_domains_.empty()) first_block_ = block;
    rcpt_domains_.push_back(std::move(domain));
    co_return co_await Send("250 2.1.5 Ok\r\n");
  }

  asio::awaitable<bool> Data() {
    if (!in_transaction_) co_return co_await Send("503 5.5.1 Error: need MAIL command\r\n");
    if (rcpt_domains_.empty()) co_return co_await Send("554 5.5.1 Error: no valid recipients\r\n");
    DomainSchedules& faults = sink_.Schedules(first_block_);
    const bool drop = faults.drop_mid_data.Next();
    const bool reset = !drop && faults.reset_mid_data.Next();
    const bool silent = !drop && !reset && faults.silent_after_data.Next();
    const bool garbage = !drop && !reset && !silent && faults.garbage_reply.Next();
    if (!co_await Send("354 End data with <CR><LF>.<CR><LF>\r\n", true)) co_return false;

    ClientCounters& client = Client();
    const bool keep_body = !sink_.maildir_.empty();
    const std::uint64_t max_size = sink_.config_.max_message_size;
    std::string message, line, message_id;
    std::uint64_t bytes = 0;
    bool in_headers = true, in_message_id = false;
    while (true) {
      if (!co_await ReadLine(&line)) co_return false;
      if (drop) {
        ++client.dropped_mid_data;
        ++sink_.stats_.Domain(rcpt_domains_.front()).dropped_mid_data;
        co_return false;
      }
      if (reset) {
        // SO_LINGER 0: close() sends RST instead of FIN.
        ++client.reset_mid_data;
        std::error_code ignored;
        socket_.set_option(asio::socket_base::linger(true, 0), ignored);
        socket_.close(ignored);
        co_return false;
      }
      if (line == ".") break;
      std::string_view text = line;
      if (!text.empty() && text.front() == '.') text.remove_prefix(1);
      bytes += text.size() + 2;
      if (in_headers) {
        if (text.empty()) {
          in_headers = false;
        } else if (text.front() == ' ' || text.front() == '\t') {
          if (in_message_id) message_id += Trim(text);
        } else {
          in_message_id = IStartsWith(text, "message-id:");
          if (in_message_id) message_id = Trim(text.substr(11));
        }
      }
      if (keep_body && bytes <= max_size) {
        message.append(text);
        message += "\r\n";
      }
    }
    if (bytes > max_size) {
      Reset();
      co_return co_await Send("552 5.3.4 Message size exceeds fixed limit\r\n");
    }
    if (silent) {
      // The whole message arrived; the final reply never comes. Wait until the client gives up.
      ++client.silent_after_data;
      std::string ignored_line;
      while (co_await ReadLine(&ignored_line)) {
      }
      co_return false;
    }
    if (garbage) {
      ++client.garbage_replies;
      Reset();
      co_return co_await Send(std::string(kGarbage, sizeof kGarbage - 1), true);
    }
    if (keep_body && !sink_.WriteMaildir(message)) {
      Reset();
      co_return co_await Send("451 4.3.0 Error: cannot write message\r\n");
    }
    ++client.messages;
    client.bytes += bytes;
    client.recipients_accepted += rcpt_domains_.size();
    // Per-domain counters: recipients, and messages once per domain present.
    std::vector<std::string> seen;
    for (const auto& d : rcpt_domains_) {
      RecipientCounters& per_domain = sink_.stats_.Domain(d);
      ++per_domain.recipients_accepted;
      bool first = true;
      for (const auto& s : seen) first = first && s != d;
      if (first) {
        ++per_domain.messages;
        seen.push_back(d);
      }
    }
    sink_.stats_.RecordMessageId(std::move(message_id));
    Reset();
    co_return co_await Send("250 2.0.0 Ok: queued as " + std::to_string(++sink_.queue_ids_) +
                            "\r\n");
  }

  SmtpSink& sink_;
  tcp::socket socket_;
  std::string ip_;
  std::string in_, out_;
  int bound_ = -1;                           // domain block of the first RCPT of the session
  const std::string* bound_name_ = nullptr;  // its name; null while unbound
  bool in_transaction_ = false;
  std::vector<std::string> rcpt_domains_;  // accepted recipients' domains, this transaction
  int first_block_ = -1;
};

SmtpSink::SmtpSink(asio::io_context& io, SimConfig config, std::string maildir)
    : io_(io),
      config_(std::move(config)),
      maildir_(std::move(maildir)),
      acceptor_(io),
      stats_(config_.record_message_ids),
      silent_greeting_(config_.silent_greeting_ppm) {
  for (const auto& d : config_.domains) {
    schedules_.push_back({RatioSchedule(d.defer_ppm), RatioSchedule(d.bounce_ppm),
                          RatioSchedule(d.drop_mid_data_ppm), RatioSchedule(d.reset_mid_data_ppm),
                          RatioSchedule(d.silent_after_data_ppm),
                          RatioSchedule(d.garbage_reply_ppm)});
  }
  schedules_.emplace_back();  // the built-in default policy
}

const DomainPolicy& SmtpSink::Policy(int index) const {
  return index >= 0 ? config_.domains[static_cast<std::size_t>(index)] : default_policy_;
}

SmtpSink::DomainSchedules& SmtpSink::Schedules(int index) {
  return index >= 0 ? schedules_[static_cast<std::size_t>(index)] : schedules_.back();
}

bool SmtpSink::Listen(std::string* error) {
  std::error_code ec;
  auto address = asio::ip::make_address(config_.listen.host, ec);
  if (ec) {
    *error = "listen: bad address " + config_.listen.host;
    return false;
  }
  tcp::endpoint ep(address, config_.listen.port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    *error = "listen " + config_.listen.host + ":" + std::to_string(config_.listen.port) + ": " +
             ec.message();
    return false;
  }
  if (!maildir_.empty()) {
    for (const char* sub : {"tmp", "new", "cur"}) {
      std::filesystem::create_directories(std::filesystem::path(maildir_) / sub, ec);
      if (ec) {
        *error = "maildir " + maildir_ + ": " + ec.message();
        return false;
      }
    }
  }
  return true;
}

tcp::endpoint SmtpSink::LocalEndpoint() const {
  std::error_code ec;
  return acceptor_.local_endpoint(ec);
}

void SmtpSink::Start() { asio::co_spawn(io_, AcceptLoop(), asio::detached); }

void SmtpSink::Stop() {
  std::error_code ec;
  acceptor_.close(ec);
}

asio::awaitable<void> SmtpSink::RunSession(std::shared_ptr<Session> session) {
  co_await session->Run();
}

asio::awaitable<void> SmtpSink::AcceptLoop() {
  while (acceptor_.is_open()) {
    std::error_code ec;
    tcp::socket socket =
        co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
      continue;  // e.g. EMFILE: keep serving the sessions we have
    }
    socket.set_option(tcp::no_delay(true), ec);
    auto session = std::make_shared<Session>(*this, std::move(socket));
    asio::co_spawn(io_, RunSession(std::move(session)), asio::detached);
  }
}

bool SmtpSink::WriteMaildir(const std::string& message) {
  namespace fs = std::filesystem;
  std::string name = std::to_string(std::time(nullptr)) + "." + std::to_string(::getpid()) + "_" +
                     std::to_string(queue_ids_ + 1) + "." + config_.hostname;
  fs::path tmp = fs::path(maildir_) / "tmp" / name;
  {
    std::ofstream out(tmp, std::ios::binary);
    out << message;
    out.flush();
    if (!out) return false;
  }
  std::error_code ec;
  fs::rename(tmp, fs::path(maildir_) / "new" / name, ec);
  return !ec;
}

}  // namespace outpost::isp_sim
