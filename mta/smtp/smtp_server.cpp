// I/O layer of the SMTP server: sockets, TLS, timers, spool commits, accounting. All protocol
// decisions are in Session (session.hpp); this file only moves bytes and carries out Actions.
#include "mta/smtp/smtp_server.hpp"

#include <openssl/ssl.h>

#include <algorithm>
#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ssl.hpp>
#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "common/acct_format.hpp"
#include "common/time_format.hpp"
#include "mta/log/log.hpp"
#include "mta/smtp/auth_failure_tracker.hpp"
#include "mta/smtp/line_reader.hpp"
#include "mta/smtp/prepare.hpp"
#include "mta/smtp/reply.hpp"
#include "mta/smtp/session.hpp"

namespace outpost::smtp {
namespace {

using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto kUseTuple = asio::experimental::as_tuple(use_awaitable);

// Read buffer per session. Commands are bounded by LineReader (<= 12 KB for AUTH), DATA is
// streamed through DataReader, so this never needs to grow.
constexpr std::size_t kReadBuffer = 64 * 1024;
// A reply write or a final 421 gets this long at most once the session is over its deadline.
constexpr auto kFinalWriteTimeout = std::chrono::seconds(10);

std::int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::shared_ptr<asio::ssl::context> BuildTlsContext(const config::Config& config,
                                                    std::string* error) {
  if (config.smtp_server_tls_certificate.empty()) return nullptr;
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  asio::error_code ec;
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use,
                   ec);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  // TLS 1.2 suites: forward-secret AEAD/strong ones only, whatever the system's openssl.cnf says
  // (no RC4, DES, 3DES, export, NULL or anonymous suites). TLS 1.3 suites are all strong.
  if (SSL_CTX_set_cipher_list(ctx->native_handle(),
                              "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:ECDHE+AES:!aNULL:!eNULL:"
                              "!MD5:!RC4:!3DES:!DES:!EXPORT:!PSK:!SRP") != 1) {
    *error = "cannot set the TLS cipher list";
    return nullptr;
  }
  ctx->use_certificate_chain_file(config.smtp_server_tls_certificate, ec);
  if (ec) {
    *error =
        "cannot load TLS certificate " + config.smtp_server_tls_certificate + ": " + ec.message();
    return nullptr;
  }
  const std::string& key = config.smtp_server_tls_private_key.empty()
                               ? config.smtp_server_tls_certificate
                               : config.smtp_server_tls_private_key;
  ctx->use_private_key_file(key, asio::ssl::context::pem, ec);
  if (ec) {
    *error = "cannot load TLS private key " + key + ": " + ec.message();
    return nullptr;
  }
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    *error = "TLS private key " + key + " does not match the certificate";
    return nullptr;
  }
  return ctx;
}

std::string FormatEndpoint(const tcp::endpoint& ep) {
  const asio::ip::address a = ep.address();
  if (a.is_v6()) return "[" + a.to_string() + "]:" + std::to_string(ep.port());
  return a.to_string() + ":" + std::to_string(ep.port());
}

}  // namespace

struct ServerState;

// One client connection. Lives as long as its coroutines (shared_ptr).
struct Connection {
  Connection(ServerState& st, tcp::socket s)
      : state(st), socket(std::move(s)), timer(socket.get_executor()) {}

  void SetDeadline(Clock::time_point t) {
    deadline = t;
    if (t < timer.expiry()) timer.cancel();  // wake the watchdog to re-arm earlier
  }
  void Close() {
    closed = true;
    asio::error_code ec;
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
    timer.cancel();
  }

  ServerState& state;
  tcp::socket socket;
  std::shared_ptr<asio::ssl::context> tls_context;
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls;
  asio::steady_timer timer;
  Clock::time_point deadline = Clock::time_point::max();
  bool timed_out = false;
  bool closed = false;
  std::string peer;
  std::string ip_key;
};

struct ServerState {
  ServerState(asio::io_context& i, spool::Spool& s, acct::AccountingLog* a)
      : io(i), spool(s), accounting(a) {}

  asio::io_context& io;
  spool::Spool& spool;
  acct::AccountingLog* accounting;

  mutable std::mutex config_mu;  // guards config, tls and routes
  std::shared_ptr<const config::Config> config;
  std::shared_ptr<asio::ssl::context> tls;
  std::shared_ptr<const PatternRoutes> routes;  // config's <pattern-list>s, compiled once

  // The compiled pattern lists of `of` (those of the current config, or built for an older one).
  std::shared_ptr<const PatternRoutes> RoutesFor(const config::Config& of) const {
    {
      std::lock_guard<std::mutex> lock(config_mu);
      if (routes && routes->source() == &of) return routes;
    }
    return std::make_shared<const PatternRoutes>(of);
  }

  AcceptedHandler on_accepted;
  AdmissionCheck admission;
  RecipientCheck recipient_check;
  SessionCounters counters;
  AuthFailureTracker auth_failures_by_ip;  // failed AUTHs per client address, across sessions
  std::atomic<std::uint64_t> connections_current{0}, connections_total{0}, connections_refused{0},
      messages_accepted{0}, recipients_accepted{0}, bytes_accepted{0}, tls_handshakes{0};

  // io thread only:
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::vector<std::string> bound;
  std::unordered_map<std::string, int> per_ip;
  std::unordered_set<Connection*> connections;
  bool stopped = false;

  std::pair<std::shared_ptr<const config::Config>, std::shared_ptr<asio::ssl::context>> Snapshot()
      const {
    std::lock_guard<std::mutex> lock(config_mu);
    return {config, tls};
  }
};

namespace {

awaitable<void> Watchdog(std::shared_ptr<Connection> c) {
  while (!c->closed) {
    c->timer.expires_at(c->deadline);
    asio::error_code ignored;
    co_await c->timer.async_wait(asio::redirect_error(use_awaitable, ignored));
    if (c->closed) break;
    if (Clock::now() >= c->deadline) {
      c->timed_out = true;
      c->deadline = Clock::time_point::max();
      asio::error_code ignored;
      c->socket.cancel(ignored);
    }
  }
}

awaitable<asio::error_code> WriteAll(Connection& c, std::string& out) {
  asio::error_code ec;
  if (out.empty()) co_return ec;
  std::size_t n = 0;
  if (c.tls) {
    std::tie(ec, n) = co_await asio::async_write(*c.tls, asio::buffer(out), kUseTuple);
  } else {
    std::tie(ec, n) = co_await asio::async_write(c.socket, asio::buffer(out), kUseTuple);
  }
  out.clear();
  co_return ec;
}

struct CommitWaiter {
  explicit CommitWaiter(asio::any_io_executor ex) : timer(ex, Clock::time_point::max()) {}
  asio::steady_timer timer;
  bool done = false;
  spool::CommitStatus status = spool::CommitStatus::kIoError;
  spool::SpoolId id;
};

// Commits on the spool thread; the outcome is posted back to this coroutine's executor.
awaitable<std::pair<spool::CommitStatus, spool::SpoolId>> CommitMessage(spool::Spool& spool,
                                                                        spool::SpoolMessage msg) {
  auto ex = co_await asio::this_coro::executor;
  auto waiter = std::make_shared<CommitWaiter>(ex);
  spool.Commit(std::move(msg),
               [w = waiter, ex](spool::CommitStatus status, spool::SpoolId id) mutable {
                 asio::post(ex, [w = std::move(w), status, id] {
                   w->done = true;
                   w->status = status;
                   w->id = id;
                   w->timer.cancel();
                 });
               });
  while (!waiter->done) {
    asio::error_code ignored;
    co_await waiter->timer.async_wait(asio::redirect_error(use_awaitable, ignored));
  }
  co_return std::make_pair(waiter->status, waiter->id);
}

// log-commands: the client's line (secrets left out, see CommandForLog) and the first line of
// the reply it got, at info level.
void LogCommand(const std::string& peer, std::string_view line, std::string_view reply) {
  const std::string_view first = reply.substr(0, reply.find("\r\n"));
  OUTPOST_LOG(kInfo, "smtp") << peer << " <- " << CommandForLog(line) << " -> "
                             << (first.empty() ? std::string_view("(no reply yet)") : first);
}

void WriteReceivedRecords(acct::AccountingLog* log, const spool::Envelope& env, std::uint64_t size,
                          const char* src_type) {
  if (log == nullptr) return;
  acct::Record r;
  r.type = acct::RecordType::kReceived;
  r[acct::Field::kTimeLogged] = timefmt::FormatAcctTime(UnixNow());
  r[acct::Field::kTimeQueued] = timefmt::FormatAcctTime(env.time_queued);
  r[acct::Field::kOrig] = env.mail_from;
  r[acct::Field::kSrcType] = src_type;
  r[acct::Field::kSrcMta] = env.source_helo + " (" + env.source_ip + ")";
  r[acct::Field::kDlvSize] = std::to_string(size);
  r[acct::Field::kVmta] = env.vmta;
  r[acct::Field::kJobId] = env.job_id;
  r[acct::Field::kEnvId] = env.env_id;
  for (const std::string& rcpt : env.recipients) {
    r[acct::Field::kRcpt] = rcpt;
    log->Write(r);
  }
}

awaitable<void> RefuseConnection(tcp::socket socket, std::string text) {
  std::string out;
  AppendReply(out, 421, "4.7.0", text);
  // Best effort, never waits for the client: one non-blocking write then close.
  asio::error_code ec;
  socket.non_blocking(true, ec);
  socket.write_some(asio::buffer(out), ec);
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
  co_return;
}

// What the session state machine needs to know about this connection and the server.
SessionOptions MakeSessionOptions(ServerState& st, Connection& c,
                                  std::shared_ptr<const config::Config> config) {
  SessionOptions options;
  options.config = std::move(config);
  asio::error_code ec;
  tcp::endpoint remote = c.socket.remote_endpoint(ec);
  asio::ip::address addr = remote.address();
  if (addr.is_v6() && addr.to_v6().is_v4_mapped()) {
    addr = asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6());
  }
  options.client_ip = IpAddress::Parse(addr.to_string()).value_or(IpAddress{});
  options.peer = c.peer;
  options.tls_available = c.tls_context != nullptr;
  spool::Spool* spool_ptr = &st.spool;
  options.spool_healthy = [spool_ptr] { return spool_ptr->Healthy(); };
  if (st.admission) options.admission = st.admission;
  if (st.recipient_check) options.refuse_recipient = st.recipient_check;
  options.new_queue_id = [] { return spool::NewQueueId(); };
  options.now = UnixNow;
  options.counters = &st.counters;
  options.auth_failures_by_ip = &st.auth_failures_by_ip;
  options.routes = st.RoutesFor(*options.config);
  return options;
}

// A message is on disk: count it, write its `r` records, log it and hand it to the scheduler.
// After a commit succeeded: counted, `r` records written, handed to the queue (SMTP and HTTP).
void RecordAccepted(ServerState& st, const std::string& peer, spool::SpoolId id,
                    const spool::Envelope& env, std::uint64_t size, const char* src_type) {
  ++st.messages_accepted;
  st.recipients_accepted += env.recipients.size();
  st.bytes_accepted += size;
  WriteReceivedRecords(st.accounting, env, size, src_type);
  OUTPOST_LOG(kInfo, src_type) << peer << " accepted " << env.id << " size=" << size
                               << " rcpts=" << env.recipients.size() << " from=<" << env.mail_from
                               << ">";
  if (st.on_accepted) st.on_accepted(id, env, size);
}

void OnAccepted(ServerState& st, const Connection& c, const Session& session, spool::SpoolId id) {
  RecordAccepted(st, c.peer, id, session.committed_envelope(), session.committed_size(), "smtp");
}

// The input side of one session: bytes read but not yet consumed, and the command line reader.
struct SessionInput {
  std::vector<char> buffer = std::vector<char>(kReadBuffer);
  std::size_t begin = 0;
  std::size_t end = 0;
  LineReader lines;

  std::string_view pending() const { return {buffer.data() + begin, end - begin}; }
  void Discard() {
    begin = end = 0;
    lines = LineReader();
  }
};

// The server side of a TLS handshake on the connection (under the caller's deadline). Returns why
// the session must end, or nullptr once the session knows TLS is on.
awaitable<const char*> Handshake(ServerState& st, Connection& c, Session& session) {
  if (!c.tls_context) co_return "no TLS certificate";  // a reload removed it (tls=yes listener)
  c.tls = std::make_unique<asio::ssl::stream<tcp::socket&>>(c.socket, *c.tls_context);
  auto [hs_ec] = co_await c.tls->async_handshake(asio::ssl::stream_base::server, kUseTuple);
  if (hs_ec) {
    OUTPOST_LOG(kInfo, "smtp") << c.peer << " TLS handshake failed: " << hs_ec.message();
    c.tls.reset();
    co_return "TLS handshake failed";
  }
  ++st.tls_handshakes;
  SSL* ssl = c.tls->native_handle();
  std::string desc = std::string(SSL_get_version(ssl)) + " " + SSL_get_cipher_name(ssl);
  OUTPOST_LOG(kInfo, "smtp") << c.peer << " TLS established " << desc;
  session.OnTlsEstablished(desc);
  co_return nullptr;
}

// STARTTLS: sends the pending `220`, drops anything pipelined after the command (it was sent in
// clear text, RFC 3207 5) and runs the handshake. Returns why the session must end, or nullptr.
awaitable<const char*> StartTls(ServerState& st, Connection& c, Session& session,
                                SessionInput& input, std::string& out,
                                std::chrono::seconds command_timeout) {
  c.SetDeadline(Clock::now() + command_timeout);
  if (co_await WriteAll(c, out)) co_return "write error";
  input.Discard();
  // Two statements: `co_return co_await Handshake(...)` died with SIGILL when built by GCC 12.
  const char* failed = co_await Handshake(st, c, session);
  co_return failed;
}

// Reads more input after the consumed bytes are dropped from the front of the buffer.
awaitable<asio::error_code> ReadMore(Connection& c, SessionInput& input) {
  if (input.begin == input.end) {
    input.begin = input.end = 0;
  } else if (input.begin > 0) {
    std::memmove(input.buffer.data(), input.buffer.data() + input.begin, input.end - input.begin);
    input.end -= input.begin;
    input.begin = 0;
  }
  auto dest = asio::buffer(input.buffer.data() + input.end, input.buffer.size() - input.end);
  asio::error_code read_ec;
  std::size_t n = 0;
  if (c.tls) {
    std::tie(read_ec, n) = co_await c.tls->async_read_some(dest, kUseTuple);
  } else {
    std::tie(read_ec, n) = co_await c.socket.async_read_some(dest, kUseTuple);
  }
  input.end += n;
  co_return read_ec;
}

void LogSessionEnd(const Connection& c, const Session& session, bool log_connections,
                   const char* end_reason, std::uint64_t messages) {
  OUTPOST_LOG_AT(log_connections ? log::Level::kInfo : log::Level::kDebug, "smtp")
      << c.peer << " session end (" << end_reason << ") messages=" << messages
      << " errors=" << session.errors();
}

// One SMTP session: replies are batched until the input is drained (PIPELINING), then flushed
// before the next read.
awaitable<void> RunSession(std::shared_ptr<ServerState> st, std::shared_ptr<Connection> conn,
                           std::shared_ptr<const config::Config> config, bool implicit_tls) {
  Connection& c = *conn;
  auto ex = co_await asio::this_coro::executor;
  asio::co_spawn(ex, Watchdog(conn), asio::detached);

  Session session(MakeSessionOptions(*st, c, config));
  const bool log_connections = session.policy().log_connections;
  OUTPOST_LOG_AT(log_connections ? log::Level::kInfo : log::Level::kDebug, "smtp")
      << c.peer << " connected";

  const auto command_timeout = config->smtp_in_command_timeout;
  const auto data_timeout = config->smtp_in_data_timeout;
  SessionInput input;
  std::string out;
  out.reserve(1024);
  bool in_data = false;
  // The command timeout runs from the end of the previous command, not from the last byte read:
  // a client dripping one byte at a time cannot hold its slot (re-armed only after a whole line).
  bool rearm_command_deadline = true;
  std::uint64_t messages = 0;
  const char* end_reason = "client quit";

  // A tls=yes listener (RFC 8314 implicit TLS): the handshake comes before the greeting.
  if (implicit_tls) {
    c.SetDeadline(Clock::now() + command_timeout);
    if (const char* failed = co_await Handshake(*st, c, session)) {
      c.Close();
      LogSessionEnd(c, session, log_connections, failed, 0);
      co_return;
    }
  }
  Action action = session.Greet(out);
  if (action == Action::kClose) {
    ++st->connections_refused;
    end_reason = "refused";
  }
  while (action != Action::kClose) {
    // Carry out the pending action.
    if (action == Action::kReadData) {
      in_data = true;
      c.SetDeadline(Clock::now() + data_timeout);
      action = Action::kContinue;
    } else if (action == Action::kCommit) {
      auto [status, id] = co_await CommitMessage(st->spool, session.TakeMessage());
      action = session.OnCommitResult(status, out);
      if (status == spool::CommitStatus::kOk) {
        ++messages;
        OnAccepted(*st, c, session, id);
      } else {
        OUTPOST_LOG(kWarning, "spool") << "commit refused: " << st->spool.Stats().last_commit_error;
      }
      continue;
    } else if (action == Action::kStartTls) {
      if (const char* failed = co_await StartTls(*st, c, session, input, out, command_timeout)) {
        end_reason = failed;
        break;
      }
      rearm_command_deadline = true;
      action = Action::kContinue;
    }

    // Process what is buffered.
    bool need_input = false;
    if (in_data) {
      input.begin += session.data_reader().Feed(input.pending());
      if (session.data_reader().done()) {
        in_data = false;
        c.SetDeadline(Clock::now() + command_timeout);
        rearm_command_deadline = true;
        action = session.OnDataEnd(out);
      } else {
        need_input = true;
      }
    } else {
      input.lines.set_max_line(session.max_line());
      std::string_view line;
      std::size_t consumed = 0;
      const LineReader::Status status = input.lines.Next(input.pending(), line, consumed);
      if (status != LineReader::Status::kNeedMore) rearm_command_deadline = true;
      if (status == LineReader::Status::kLine) {
        const std::size_t reply_start = out.size();
        const bool log_commands = session.policy().log_commands;  // before AUTH changes it
        action = session.OnLine(line, out);
        if (log_commands) LogCommand(c.peer, line, std::string_view(out).substr(reply_start));
        const auto penalty = session.TakeReplyDelay();
        if (penalty.count() > 0) {
          // A failed AUTH: nothing is answered or read for a while (slows password guessing).
          c.SetDeadline(Clock::now() + penalty + command_timeout);
          asio::steady_timer hold(ex, penalty);
          asio::error_code ignored;
          co_await hold.async_wait(asio::redirect_error(use_awaitable, ignored));
          if (c.closed) break;
        }
      } else if (status == LineReader::Status::kTooLong) {
        action = session.OnLineTooLong(out);
      } else {
        need_input = true;
      }
      input.begin += consumed;
    }
    if (!need_input) continue;

    // Input drained: flush the batch of replies (PIPELINING), then read.
    if (!in_data && rearm_command_deadline) {
      c.SetDeadline(Clock::now() + command_timeout);
      rearm_command_deadline = false;
    }
    if (co_await WriteAll(c, out)) {
      end_reason = c.timed_out ? "timeout" : "write error";
      break;
    }
    if (asio::error_code read_ec = co_await ReadMore(c, input)) {
      if (c.timed_out && !c.closed) {
        end_reason = "timeout";
        OUTPOST_LOG(kInfo, "smtp") << c.peer << " timeout" << (in_data ? " in DATA" : "");
        session.OnTimeout(out);
        c.timed_out = false;
        c.SetDeadline(Clock::now() + kFinalWriteTimeout);
        co_await WriteAll(c, out);
      } else {
        end_reason = in_data ? "connection lost in DATA" : "connection lost";
      }
      break;
    }
  }
  if (action == Action::kClose && !c.closed) {
    c.SetDeadline(Clock::now() + kFinalWriteTimeout);
    co_await WriteAll(c, out);
  }
  c.Close();
  LogSessionEnd(c, session, log_connections, end_reason, messages);
}

awaitable<void> AcceptLoop(std::shared_ptr<ServerState> st, tcp::acceptor* acceptor,
                           bool implicit_tls) {
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer pause(ex);
  while (!st->stopped) {
    auto [ec, socket] = co_await acceptor->async_accept(kUseTuple);
    if (st->stopped) co_return;
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      // EMFILE and friends: log and back off briefly instead of spinning.
      OUTPOST_LOG(kWarning, "smtp") << "accept failed: " << ec.message();
      pause.expires_after(std::chrono::milliseconds(100));
      asio::error_code ignored;
      co_await pause.async_wait(asio::redirect_error(use_awaitable, ignored));
      continue;
    }
    auto [config, tls] = st->Snapshot();
    asio::error_code rec;
    const tcp::endpoint remote = socket.remote_endpoint(rec);
    if (rec) continue;
    asio::ip::address addr = remote.address();
    if (addr.is_v6() && addr.to_v6().is_v4_mapped()) {
      addr = asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6());
    }
    std::string ip = addr.to_string();
    const int per_ip = st->per_ip[ip];
    if (st->connections_current >= static_cast<std::uint64_t>(config->max_smtp_in) ||
        per_ip >= config->max_smtp_in_per_ip) {
      if (per_ip == 0) st->per_ip.erase(ip);
      ++st->connections_refused;
      OUTPOST_LOG(kInfo, "smtp") << "[" << ip << "]:" << remote.port()
                                 << " refused: too many connections";
      asio::co_spawn(ex, RefuseConnection(std::move(socket), "Too many connections"),
                     asio::detached);
      continue;
    }
    ++st->per_ip[ip];
    ++st->connections_current;
    ++st->connections_total;
    asio::error_code opt_ec;
    socket.set_option(tcp::no_delay(true), opt_ec);
    auto conn = std::make_shared<Connection>(*st, std::move(socket));
    conn->tls_context = tls;
    conn->peer = "[" + ip + "]:" + std::to_string(remote.port());
    conn->ip_key = ip;
    st->connections.insert(conn.get());
    asio::co_spawn(
        ex, RunSession(st, conn, config, implicit_tls), [st, conn](std::exception_ptr e) {
          if (e) {
            try {
              std::rethrow_exception(e);
            } catch (const std::exception& failure) {
              OUTPOST_LOG(kError, "smtp") << conn->peer << " session aborted: " << failure.what();
            }
            conn->Close();
          }
          st->connections.erase(conn.get());
          --st->connections_current;
          auto it = st->per_ip.find(conn->ip_key);
          if (it != st->per_ip.end() && --it->second <= 0) st->per_ip.erase(it);
        });
  }
}

}  // namespace

struct SmtpServer::Impl {
  std::shared_ptr<ServerState> state;
};

SmtpServer::SmtpServer(asio::io_context& io, std::shared_ptr<const config::Config> config,
                       spool::Spool& spool, acct::AccountingLog* accounting)
    : impl_(std::make_unique<Impl>()) {
  impl_->state = std::make_shared<ServerState>(io, spool, accounting);
  impl_->state->routes = std::make_shared<const PatternRoutes>(*config);
  impl_->state->config = std::move(config);
}

SmtpServer::~SmtpServer() { Stop(); }

void SmtpServer::SetAcceptedHandler(AcceptedHandler handler) {
  impl_->state->on_accepted = std::move(handler);
}

void SmtpServer::SetAdmissionCheck(AdmissionCheck check) {
  impl_->state->admission = std::move(check);
}

void SmtpServer::SetRecipientCheck(RecipientCheck check) {
  impl_->state->recipient_check = std::move(check);
}

bool SmtpServer::Start(std::string* error) {
  ServerState& st = *impl_->state;
  auto [config, old_tls] = st.Snapshot();
  std::string tls_error;
  auto tls = BuildTlsContext(*config, &tls_error);
  if (!tls_error.empty()) {
    if (error) *error = tls_error;
    return false;
  }
  {
    std::lock_guard<std::mutex> lock(st.config_mu);
    st.tls = tls;
  }
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::vector<std::string> bound;
  for (const config::ListenAddress& listen : config->smtp_listeners) {
    const std::string name = listen.host + ":" + std::to_string(listen.port);
    asio::error_code ec;
    const asio::ip::address addr = asio::ip::make_address(listen.host, ec);
    if (ec) {
      if (error) *error = "smtp-listener " + name + ": bad address";
      return false;
    }
    auto acceptor = std::make_unique<tcp::acceptor>(st.io);
    const tcp::endpoint ep(addr, listen.port);
    acceptor->open(ep.protocol(), ec);
    if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec && addr.is_v6()) acceptor->set_option(asio::ip::v6_only(true), ec);
    if (!ec) acceptor->bind(ep, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      if (error) *error = "smtp-listener " + name + ": " + ec.message();
      return false;
    }
    bound.push_back(FormatEndpoint(acceptor->local_endpoint(ec)));
    acceptors.push_back(std::move(acceptor));
  }
  st.stopped = false;
  for (std::size_t i = 0; i < acceptors.size(); ++i) {
    const bool implicit_tls = config->smtp_listeners[i].implicit_tls;
    OUTPOST_LOG(kInfo, "smtp") << "listening on " << FormatEndpoint(acceptors[i]->local_endpoint())
                               << (implicit_tls ? " (tls=yes)" : "");
    asio::co_spawn(st.io, AcceptLoop(impl_->state, acceptors[i].get(), implicit_tls),
                   asio::detached);
    st.acceptors.push_back(std::move(acceptors[i]));
  }
  st.bound.insert(st.bound.end(), bound.begin(), bound.end());
  return true;
}

namespace {

// What RCPT would answer each recipient of a submission (session.cpp's Rcpt, without the relay
// check: the submitter has authenticated). Returns the accepted addresses.
std::vector<std::string> JudgeRecipients(const ServerState& st, const config::Config& config,
                                         const RouteList* route_list, const Submission& s,
                                         std::vector<RecipientVerdict>& verdicts) {
  std::vector<std::string> accepted;
  std::size_t signature = RouteList::kNoMatch;
  for (const std::string& address : s.recipients) {
    RecipientVerdict& v = verdicts.emplace_back();
    v.address = address;
    const std::string why = st.recipient_check ? st.recipient_check(address) : "";
    if (CheckMailbox(address).domain_is_literal) {
      v = {address, 550, "5.7.1", "Address literals are not accepted as recipients"};
    } else if (!why.empty()) {
      v = {address, 550, "5.7.1", why};
    } else if (accepted.size() >= static_cast<std::size_t>(config.max_rcpt_per_message)) {
      v = {address, 452, "4.5.3", "Too many recipients"};
    } else if (route_list != nullptr && s.vmta.empty()) {
      const std::size_t own = route_list->Signature(s.mail_from, address);
      if (!accepted.empty() && own != signature) {
        v = {address, 452, "4.5.3",
             "Recipient is routed through another virtual MTA; submit it separately"};
      }
      signature = own;
    }
    if (v.accepted()) accepted.push_back(address);
  }
  return accepted;
}

}  // namespace

void SmtpServer::Submit(Submission s, SubmitDone done) {
  std::shared_ptr<ServerState> st = impl_->state;
  const std::shared_ptr<const config::Config> config = st->Snapshot().first;
  const config::EffectiveSourcePolicy policy = config->SourcePolicyFor(s.client_ip);
  const std::shared_ptr<const PatternRoutes> routes = st->RoutesFor(*config);
  const RouteList* route_list =
      policy.pattern_list.empty() ? nullptr : routes->Find(policy.pattern_list);
  SubmitOutcome outcome;
  std::vector<std::string> accepted =
      JudgeRecipients(*st, *config, route_list, s, outcome.recipients);
  if (accepted.empty()) {
    outcome.status = SubmitOutcome::Status::kNoneAccepted;
    return done(std::move(outcome));
  }
  if (!st->spool.Healthy() || (st->admission && !st->admission(accepted.size()))) {
    outcome.error = "Insufficient system storage";
    return done(std::move(outcome));
  }
  const std::string peer = "[" + s.client_ip.ToString() + "] " + s.client_name;
  const char* src_type = s.src_type;
  Transaction t;
  t.mail_from = std::move(s.mail_from);
  t.recipients = std::move(accepted);
  t.env_id = std::move(s.env_id);
  t.client_ip = s.client_ip.ToString();
  t.client_literal = "[" + t.client_ip + "]";
  t.helo = s.client_name;
  t.auth_user = std::move(s.client_name);
  t.protocol = std::move(s.protocol);
  // As BODY=8BITMIME would say: delivery converts it for a server without 8BITMIME.
  t.body_8bit = std::any_of(s.content.begin(), s.content.end(),
                            [](char ch) { return static_cast<unsigned char>(ch) > 0x7f; });
  t.data = std::move(s.content);
  t.vmta = std::move(s.vmta);
  t.job_id = std::move(s.job_id);
  Prepared prepared =
      PrepareMessage(std::move(t), *config, policy, route_list, spool::NewQueueId(), UnixNow());
  if (!prepared.refusal.empty()) {
    ++st->counters.messages_rejected;
    outcome.status = SubmitOutcome::Status::kRefused;
    outcome.error = prepared.refusal;
    return done(std::move(outcome));
  }
  auto envelope = std::make_shared<spool::Envelope>(prepared.message.envelope);
  const std::uint64_t size = prepared.message.data.size();
  st->spool.Commit(std::move(prepared.message),
                   [st, envelope, size, peer, src_type, outcome = std::move(outcome),
                    done = std::move(done)](spool::CommitStatus status, spool::SpoolId id) mutable {
                     asio::post(
                         st->io, [st, envelope, size, peer, src_type, status, id,
                                  outcome = std::move(outcome), done = std::move(done)]() mutable {
                           if (status != spool::CommitStatus::kOk) {
                             ++st->counters.messages_rejected;
                             OUTPOST_LOG(kWarning, "spool")
                                 << "commit refused: " << st->spool.Stats().last_commit_error;
                             outcome.error = "Insufficient system storage";
                             return done(std::move(outcome));
                           }
                           RecordAccepted(*st, peer, id, *envelope, size, src_type);
                           outcome.status = SubmitOutcome::Status::kAccepted;
                           outcome.id = envelope->id;
                           done(std::move(outcome));
                         });
                   });
}

std::vector<std::string> SmtpServer::BoundAddresses() const { return impl_->state->bound; }

void SmtpServer::Stop() {
  ServerState& st = *impl_->state;
  st.stopped = true;
  for (auto& acceptor : st.acceptors) {
    asio::error_code ec;
    acceptor->close(ec);
  }
  for (Connection* c : st.connections) c->Close();
}

void SmtpServer::SetConfig(std::shared_ptr<const config::Config> config) {
  std::string error;
  auto tls = BuildTlsContext(*config, &error);
  if (!error.empty()) {
    OUTPOST_LOG(kError, "smtp") << "reload: " << error << " (keeping the previous TLS setup)";
  }
  auto routes = std::make_shared<const PatternRoutes>(*config);
  ServerState& st = *impl_->state;
  std::lock_guard<std::mutex> lock(st.config_mu);
  st.routes = std::move(routes);
  st.config = std::move(config);
  if (error.empty()) st.tls = std::move(tls);
}

ServerStats SmtpServer::Stats() const {
  const ServerState& st = *impl_->state;
  ServerStats s;
  s.connections_current = st.connections_current;
  s.connections_total = st.connections_total;
  s.connections_refused = st.connections_refused;
  s.messages_accepted = st.messages_accepted;
  s.recipients_accepted = st.recipients_accepted;
  s.bytes_accepted = st.bytes_accepted;
  s.messages_rejected = st.counters.messages_rejected;
  s.relay_denied = st.counters.relay_denied;
  s.auth_failures = st.counters.auth_failures;
  s.tls_handshakes = st.tls_handshakes;
  return s;
}

}  // namespace outpost::smtp
