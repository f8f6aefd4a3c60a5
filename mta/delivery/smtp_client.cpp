#include "mta/delivery/smtp_client.hpp"

#include <openssl/ssl.h>

#include <algorithm>
#include <asio.hpp>
#include <asio/ssl.hpp>
#include <cctype>
#include <cstdio>
#include <string_view>
#include <utility>

#include "mta/delivery/dot_stuff.hpp"

namespace outpost::delivery {

namespace {

using asio::ip::tcp;
using Millis = std::chrono::milliseconds;

// A reply larger than this without its last line is a broken (or hostile) peer.
constexpr std::size_t kMaxReplyBytes = 256 * 1024;
// Body writes are gathered into chunks of about this size.
constexpr std::size_t kWriteChunk = 64 * 1024;

// One client context for every connection: opportunistic TLS, TLS 1.2 or later, no verification.
// SSL_CTX is safe to share between threads once configured (static init is thread-safe).
asio::ssl::context& ClientTlsContext() {
  static asio::ssl::context ctx = [] {
    asio::ssl::context c(asio::ssl::context::tls_client);
    c.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                  asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                  asio::ssl::context::no_tlsv1_1);
    SSL_CTX_set_min_proto_version(c.native_handle(), TLS1_2_VERSION);
    c.set_verify_mode(asio::ssl::verify_none);
    return c;
  }();
  return ctx;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// "4.7.28" at the start of `text` (class digit, 1-3 digits, 1-3 digits) followed by space or end.
std::size_t EnhancedCodeLength(std::string_view text) {
  std::size_t i = 0;
  if (text.size() < 5 || (text[0] != '2' && text[0] != '4' && text[0] != '5')) return 0;
  i = 1;
  for (int part = 0; part < 2; ++part) {
    if (i >= text.size() || text[i] != '.') return 0;
    ++i;
    std::size_t start = i;
    while (i < text.size() && IsDigit(text[i]) && i - start < 4) ++i;
    if (i == start || i - start > 3) return 0;
  }
  if (i < text.size() && text[i] != ' ') return 0;
  return i;
}

// Parses one reply; `lines` (optional) receives each line's text after "NNN-"/"NNN ".
std::size_t ParseReplyLines(const std::string& buffer, Reply& reply,
                            std::vector<std::string>* lines) {
  reply = Reply{};
  if (lines) lines->clear();
  std::size_t pos = 0;
  bool first = true;
  while (true) {
    std::size_t nl = buffer.find('\n', pos);
    if (nl == std::string::npos) return 0;  // incomplete
    std::size_t end = nl;
    if (end > pos && buffer[end - 1] == '\r') --end;
    std::string_view line(buffer.data() + pos, end - pos);
    std::size_t consumed = nl + 1;
    bool well_formed = line.size() >= 3 && IsDigit(line[0]) && IsDigit(line[1]) &&
                       IsDigit(line[2]) && line[0] >= '1' && line[0] <= '5' &&
                       (line.size() == 3 || line[3] == ' ' || line[3] == '-');
    if (!well_formed) {
      reply = Reply{};
      if (lines) lines->clear();
      return consumed;
    }
    int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (first) {
      reply.code = code;
    } else if (code != reply.code) {
      reply = Reply{};
      if (lines) lines->clear();
      return consumed;
    }
    bool last = line.size() == 3 || line[3] == ' ';
    std::string_view text = line.size() > 4 ? line.substr(4) : std::string_view();
    if (lines) lines->emplace_back(text);
    std::size_t enh = EnhancedCodeLength(text);
    if (enh > 0 && text[0] == line[0]) {
      if (first) reply.enhanced = std::string(text.substr(0, enh));
      text.remove_prefix(enh);
      while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    }
    if (!text.empty()) {
      if (!reply.text.empty()) reply.text += ' ';
      reply.text.append(text);
    }
    first = false;
    pos = consumed;
    if (last) return consumed;
  }
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// RFC 3461 xtext for ENVID.
std::string XText(const std::string& in) {
  std::string out;
  for (unsigned char c : in) {
    if (c < 33 || c > 126 || c == '+' || c == '=') {
      char hex[4];
      std::snprintf(hex, sizeof hex, "+%02X", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string StripLineEnds(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c != '\r' && c != '\n') out += c;
  }
  return out;
}

// What the timer and the socket share: the deadline handler holds a weak_ptr, so it never
// touches a destroyed connection.
struct Core {
  explicit Core(asio::any_io_executor ex) : socket(ex), timer(ex) {}
  tcp::socket socket;
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls;
  asio::steady_timer timer;
  std::uint64_t generation = 0;
  bool timed_out = false;
};

struct ReadOutcome {
  Reply reply;
  std::vector<std::string> lines;
  asio::error_code ec;  // set when no well-formed reply arrived
  bool timed_out = false;
  bool ok() const { return !ec; }
};

}  // namespace

std::string Reply::Full() const {
  std::string out = std::to_string(code);
  if (!enhanced.empty()) out += " " + enhanced;
  if (!text.empty()) out += " " + text;
  return out;
}

Reply TransactionResult::OutcomeFor(std::size_t i) const {
  if (!mail_reply.Positive()) return mail_reply;
  if (i < rcpt_replies.size() && !rcpt_replies[i].Positive()) return rcpt_replies[i];
  return data_reply;
}

std::size_t ParseReply(const std::string& buffer, Reply& reply) {
  return ParseReplyLines(buffer, reply, nullptr);
}

struct SmtpClientConnection::Impl {
  explicit Impl(asio::any_io_executor ex) : executor(ex), core(std::make_shared<Core>(ex)) {}

  asio::any_io_executor executor;
  std::shared_ptr<Core> core;
  ClientOptions options;
  std::string inbuf;
  bool usable = false;
  bool tls_used = false;
  bool starttls_offered = false;
  bool pipelining = false;
  bool size = false;
  bool eight_bit = false;
  bool dsn = false;
  std::string esmtp;
  std::string peer;
  std::string local;
  int transactions = 0;
  std::string last_error;  // why the last Write/ReadReply failed, for lost-connection replies

  // --- deadline ---
  void Arm(Millis d) {
    core->timed_out = false;
    std::uint64_t gen = ++core->generation;
    core->timer.expires_after(d);
    std::weak_ptr<Core> weak = core;
    core->timer.async_wait([weak, gen](const asio::error_code& ec) {
      if (ec) return;
      std::shared_ptr<Core> c = weak.lock();
      if (!c || c->generation != gen) return;
      c->timed_out = true;
      asio::error_code ignored;
      c->socket.close(ignored);
    });
  }
  void Disarm() {
    ++core->generation;
    core->timer.cancel();
  }

  // --- I/O ---
  asio::awaitable<asio::error_code> WriteRaw(std::string_view bytes) {
    asio::error_code ec;
    if (core->tls) {
      co_await asio::async_write(*core->tls, asio::buffer(bytes.data(), bytes.size()),
                                 asio::redirect_error(asio::use_awaitable, ec));
    } else {
      co_await asio::async_write(core->socket, asio::buffer(bytes.data(), bytes.size()),
                                 asio::redirect_error(asio::use_awaitable, ec));
    }
    co_return ec;
  }

  asio::awaitable<asio::error_code> ReadSome() {
    char buf[16 * 1024];
    asio::error_code ec;
    std::size_t n = 0;
    if (core->tls) {
      n = co_await core->tls->async_read_some(asio::buffer(buf),
                                              asio::redirect_error(asio::use_awaitable, ec));
    } else {
      n = co_await core->socket.async_read_some(asio::buffer(buf),
                                                asio::redirect_error(asio::use_awaitable, ec));
    }
    inbuf.append(buf, n);
    co_return ec;
  }

  static std::string DurationText(Millis d) {
    if (d.count() % 1000 != 0) return std::to_string(d.count()) + "ms";
    return std::to_string(d.count() / 1000) + "s";
  }

  void NoteFailure(bool timed_out, Millis timeout, const asio::error_code& ec,
                   const std::string& what) {
    if (timed_out) {
      last_error = "timeout after " + DurationText(timeout) + " " + what;
    } else if (ec == asio::error::invalid_argument) {
      last_error = "malformed reply " + what;
    } else {
      last_error = "connection lost " + what + ": " + ec.message();
    }
  }

  // Writes `bytes` under a deadline; false (and the connection unusable) on failure.
  asio::awaitable<bool> Write(std::string_view bytes, Millis timeout,
                              const std::string& what = "sending a command") {
    Arm(timeout);
    asio::error_code ec = co_await WriteRaw(bytes);
    Disarm();
    if (ec) {
      usable = false;
      NoteFailure(core->timed_out, timeout, ec, what);
    }
    co_return !ec;
  }

  asio::awaitable<ReadOutcome> ReadReply(Millis timeout,
                                         const std::string& what = "waiting for a reply") {
    ReadOutcome out;
    Arm(timeout);
    while (true) {
      std::size_t n = ParseReplyLines(inbuf, out.reply, &out.lines);
      if (n > 0) {
        inbuf.erase(0, n);
        if (out.reply.code == 0) out.ec = asio::error::invalid_argument;  // malformed
        break;
      }
      if (inbuf.size() > kMaxReplyBytes) {
        out.ec = asio::error::message_size;
        break;
      }
      asio::error_code ec = co_await ReadSome();
      if (ec) {
        out.ec = ec;
        break;
      }
    }
    Disarm();
    out.timed_out = core->timed_out;
    if (!out.ok()) {
      usable = false;
      NoteFailure(out.timed_out, timeout, out.ec, what);
    }
    co_return out;
  }

  asio::awaitable<ReadOutcome> Command(const std::string& line) {
    const std::string verb = line.substr(0, line.find_first_of(" \r"));
    if (!co_await Write(line, options.timeouts.command, "sending " + verb)) {
      ReadOutcome out;
      out.ec = asio::error::broken_pipe;
      out.timed_out = core->timed_out;
      co_return out;
    }
    co_return co_await ReadReply(options.timeouts.command, "waiting for the reply to " + verb);
  }

  void CloseSocket() {
    Disarm();
    asio::error_code ignored;
    core->tls.reset();
    core->socket.shutdown(tcp::socket::shutdown_both, ignored);
    core->socket.close(ignored);
    usable = false;
  }

  // Half-closes and reads to the peer's EOF (bounded), then closes: the receiver has seen this
  // connection end before the caller counts it as closed. Under TLS no close_notify is exchanged;
  // the TCP FIN ends the session (the message is already acknowledged or not sent at all).
  asio::awaitable<void> GracefulClose() {
    usable = false;
    if (!core->socket.is_open()) {
      CloseSocket();
      co_return;
    }
    const Millis bound = std::min<Millis>(std::chrono::seconds(5), options.timeouts.command);
    asio::error_code ec;
    core->tls.reset();
    core->socket.shutdown(tcp::socket::shutdown_send, ec);
    if (!ec) {
      Arm(bound);
      char buf[4096];
      while (!ec) {
        co_await core->socket.async_read_some(asio::buffer(buf),
                                              asio::redirect_error(asio::use_awaitable, ec));
      }
    }
    CloseSocket();
  }

  // --- connection set-up ---

  // The socket stays open: the public Connect() closes it gracefully.
  void Fail(ConnectResult& res, ConnectFailure f, std::string error) {
    res.failure = f;
    res.error = std::move(error);
    Disarm();
    usable = false;
  }

  void ParseExtensions(const std::vector<std::string>& lines) {
    pipelining = size = eight_bit = dsn = false;
    bool starttls = false;
    for (std::size_t i = 1; i < lines.size(); ++i) {
      std::string_view l = lines[i];
      std::string keyword = Upper(l.substr(0, l.find(' ')));
      if (keyword == "PIPELINING") pipelining = true;
      if (keyword == "SIZE") size = true;
      if (keyword == "8BITMIME") eight_bit = !options.ignore_8bitmime;
      if (keyword == "DSN") dsn = true;
      if (keyword == "STARTTLS") starttls = true;
    }
    if (!tls_used) starttls_offered = starttls;
    esmtp.clear();
    auto add = [this](bool on, const char* name) {
      if (!on) return;
      if (!esmtp.empty()) esmtp += ',';
      esmtp += name;
    };
    add(pipelining, "PIPELINING");
    add(eight_bit, "8BITMIME");
    add(size, "SIZE");
    add(starttls_offered, "STARTTLS");
  }

  // EHLO (HELO when EHLO gets a 5xx). False when the connection failed (res filled in).
  asio::awaitable<bool> Hello(ConnectResult& res) {
    ReadOutcome r = co_await Command("EHLO " + options.ehlo_name + "\r\n");
    if (!r.ok()) {
      Fail(res, r.timed_out ? ConnectFailure::kTimeout : ConnectFailure::kDropped, last_error);
      co_return false;
    }
    if (r.reply.code == 250) {
      ParseExtensions(r.lines);
      co_return true;
    }
    if (!r.reply.Permanent()) {
      res.reply = r.reply;
      Fail(res, ConnectFailure::kGreeting, "EHLO refused: " + r.reply.Full());
      co_return false;
    }
    r = co_await Command("HELO " + options.ehlo_name + "\r\n");
    if (!r.ok()) {
      Fail(res, r.timed_out ? ConnectFailure::kTimeout : ConnectFailure::kDropped, last_error);
      co_return false;
    }
    if (r.reply.code != 250) {
      res.reply = r.reply;
      Fail(res, ConnectFailure::kGreeting, "HELO refused: " + r.reply.Full());
      co_return false;
    }
    ParseExtensions({});
    co_return true;
  }

  asio::awaitable<bool> StartTls(ConnectResult& res) {
    ReadOutcome r = co_await Command("STARTTLS\r\n");
    if (!r.ok()) {
      Fail(res, r.timed_out ? ConnectFailure::kTimeout : ConnectFailure::kDropped, last_error);
      co_return false;
    }
    if (r.reply.code != 220) {
      if (options.require_starttls) {
        res.reply = r.reply;
        Fail(res, ConnectFailure::kTls, "STARTTLS refused: " + r.reply.Full());
        co_return false;
      }
      co_return true;  // carry on in plain text
    }
    // Anything the server sent after its 220 before the handshake is an injection attempt.
    inbuf.clear();
    core->tls = std::make_unique<asio::ssl::stream<tcp::socket&>>(core->socket, ClientTlsContext());
    asio::error_code ec;
    Arm(options.timeouts.command);
    co_await core->tls->async_handshake(asio::ssl::stream_base::client,
                                        asio::redirect_error(asio::use_awaitable, ec));
    Disarm();
    if (ec) {
      res.tls_handshake_failed = true;
      Fail(res, ConnectFailure::kTls,
           core->timed_out ? std::string("TLS handshake timed out")
                           : "TLS handshake failed: " + ec.message());
      co_return false;
    }
    tls_used = true;
    co_return co_await Hello(res);
  }

  asio::awaitable<ConnectResult> Connect(std::string address, std::uint16_t port,
                                         ClientOptions opts) {
    ConnectResult res;
    CloseSocket();
    core = std::make_shared<Core>(executor);
    options = std::move(opts);
    inbuf.clear();
    tls_used = starttls_offered = pipelining = size = eight_bit = dsn = false;
    esmtp.clear();
    transactions = 0;
    peer = address;
    local.clear();

    std::string where = "connect to " + address + ":" + std::to_string(port);
    asio::error_code ec;
    asio::ip::address dest_ip = asio::ip::make_address(address, ec);
    if (ec) {
      Fail(res, ConnectFailure::kRefused, where + ": bad address");
      co_return res;
    }
    tcp::endpoint dest(dest_ip, port);
    core->socket.open(dest.protocol(), ec);
    if (ec) {
      Fail(res, ConnectFailure::kRefused, where + ": " + ec.message());
      co_return res;
    }
    if (!options.source_address.empty()) {
      asio::ip::address src = asio::ip::make_address(options.source_address, ec);
      if (!ec) core->socket.bind(tcp::endpoint(src, 0), ec);
      if (ec) {
        Fail(res, ConnectFailure::kBind, "bind " + options.source_address + ": " + ec.message());
        co_return res;
      }
    }
    Arm(options.timeouts.connect);
    co_await core->socket.async_connect(dest, asio::redirect_error(asio::use_awaitable, ec));
    Disarm();
    if (ec) {
      if (core->timed_out) {
        Fail(res, ConnectFailure::kTimeout, where + ": connection timed out");
      } else {
        Fail(res, ConnectFailure::kRefused, where + ": " + ec.message());
      }
      co_return res;
    }
    usable = true;
    tcp::endpoint le = core->socket.local_endpoint(ec);
    if (!ec) local = le.address().to_string();

    ReadOutcome greeting =
        co_await ReadReply(options.timeouts.greeting, "waiting for the greeting");
    if (!greeting.ok()) {
      Fail(res, greeting.timed_out ? ConnectFailure::kTimeout : ConnectFailure::kDropped,
           last_error);
      co_return res;
    }
    if (greeting.reply.code != 220) {
      res.reply = greeting.reply;
      Fail(res, ConnectFailure::kGreeting, "greeting: " + greeting.reply.Full());
      co_return res;
    }
    if (!co_await Hello(res)) co_return res;
    if (starttls_offered && options.use_starttls) {
      if (!co_await StartTls(res)) co_return res;
    }
    if (options.require_starttls && !tls_used) {
      Fail(res, ConnectFailure::kTls, "STARTTLS required but not offered");
      co_return res;
    }
    co_return res;
  }

  // --- transactions ---
  std::string MailCommand(const Transaction& t) const {
    std::string cmd = "MAIL FROM:<" + StripLineEnds(t.mail_from) + ">";
    if (size && t.data != nullptr) cmd += " SIZE=" + std::to_string(t.data->size());
    if (eight_bit && t.body_8bit) cmd += " BODY=8BITMIME";
    if (dsn && !t.env_id.empty()) cmd += " ENVID=" + XText(t.env_id);
    cmd += "\r\n";
    return cmd;
  }

  // Dot-stuffs `data` into chunks and writes them, then the terminator.
  asio::awaitable<bool> WriteBody(const std::string& data) {
    std::string chunk;
    chunk.reserve(kWriteChunk + 16);
    DotStuffState state;
    while (state.pos < data.size()) {
      EncodeDotStuffed(data, kWriteChunk, state, chunk);
      if (chunk.size() >= kWriteChunk) {
        if (!co_await Write(chunk, options.timeouts.data_send, "sending the message")) {
          co_return false;
        }
        chunk.clear();
      }
    }
    FinishDotStuffed(state, chunk);
    co_return co_await Write(chunk, options.timeouts.data_send, "sending the message");
  }

  void NoteReply(const Reply& r) {
    if (r.code == 421) usable = false;  // the server is closing the channel
  }

  // Reads one reply into `into`; false when the connection is gone.
  asio::awaitable<bool> ReadInto(Reply& into, Millis timeout,
                                 const std::string& what = "waiting for a reply") {
    ReadOutcome r = co_await ReadReply(timeout, what);
    if (!r.ok()) co_return false;
    into = r.reply;
    NoteReply(into);
    co_return true;
  }

  asio::awaitable<void> Reset() {
    if (!usable) co_return;
    ReadOutcome r = co_await Command("RSET\r\n");
    if (!r.ok() || !r.reply.Positive()) usable = false;
  }

  asio::awaitable<TransactionResult> Send(Transaction t) {
    TransactionResult res;
    res.rcpt_replies.resize(t.recipients.size());
    if (!usable) {
      res.connection_lost = true;
      co_return res;
    }
    ++transactions;
    static const std::string kEmpty;
    const std::string& data = t.data != nullptr ? *t.data : kEmpty;
    const Millis cmd_timeout = options.timeouts.command;
    // The replies that never came carry the reason (accounting's dsnDiag shows it).
    auto lost = [&]() {
      res.connection_lost = true;
      CloseSocket();
      if (res.mail_reply.code == 0) res.mail_reply.text = last_error;
      for (Reply& r : res.rcpt_replies) {
        if (r.code == 0) r.text = last_error;
      }
      if (res.data_reply.code == 0) res.data_reply.text = last_error;
      return res;
    };

    bool data_started = false;  // DATA got 354
    if (pipelining) {
      std::string batch = MailCommand(t);
      for (const std::string& rcpt : t.recipients) {
        batch += "RCPT TO:<" + StripLineEnds(rcpt) + ">\r\n";
      }
      batch += "DATA\r\n";
      if (!co_await Write(batch, cmd_timeout)) co_return lost();
      if (!co_await ReadInto(res.mail_reply, cmd_timeout)) co_return lost();
      for (Reply& r : res.rcpt_replies) {
        if (!co_await ReadInto(r, cmd_timeout)) co_return lost();
      }
      if (!co_await ReadInto(res.data_reply, cmd_timeout)) co_return lost();
      data_started = res.data_reply.code == 354;
    } else {
      ReadOutcome r = co_await Command(MailCommand(t));
      if (!r.ok()) co_return lost();
      res.mail_reply = r.reply;
      NoteReply(r.reply);
      if (!res.mail_reply.Positive()) co_return res;
      bool any = false;
      for (std::size_t i = 0; i < t.recipients.size() && usable; ++i) {
        r = co_await Command("RCPT TO:<" + StripLineEnds(t.recipients[i]) + ">\r\n");
        if (!r.ok()) co_return lost();
        res.rcpt_replies[i] = r.reply;
        NoteReply(r.reply);
        any = any || r.reply.Positive();
      }
      if (!any || !usable) {
        co_await Reset();
        co_return res;
      }
      r = co_await Command("DATA\r\n");
      if (!r.ok()) co_return lost();
      res.data_reply = r.reply;
      NoteReply(r.reply);
      data_started = r.reply.code == 354;
    }

    bool any_rcpt = false;
    for (const Reply& r : res.rcpt_replies) any_rcpt = any_rcpt || r.Positive();
    const bool can_send = res.mail_reply.Positive() && any_rcpt;

    if (data_started && !can_send) {
      // RFC 2920: DATA was accepted although nothing else was; end an empty message and ignore
      // the answer (the outcome is the MAIL/RCPT refusals).
      if (!co_await Write(".\r\n", cmd_timeout)) co_return lost();
      if (!co_await ReadInto(res.data_reply, cmd_timeout)) co_return lost();
      co_return res;
    }
    if (!data_started) {
      if (res.mail_reply.Positive()) co_await Reset();
      co_return res;
    }
    res.data_reply = Reply{};  // 354 is not the outcome; the reply to the final dot is
    if (!co_await WriteBody(data)) {
      res.transfer_failed = true;
      co_return lost();
    }
    ReadOutcome end = co_await ReadReply(options.timeouts.data_termination,
                                         "waiting for the reply to the final dot");
    if (!end.ok()) {
      (end.timed_out ? res.final_reply_timed_out : res.transfer_failed) = true;
      co_return lost();
    }
    res.data_reply = end.reply;
    NoteReply(res.data_reply);
    co_return res;
  }

  asio::awaitable<void> Quit() {
    if (usable) {
      ReadOutcome r = co_await Command("QUIT\r\n");
      (void)r;
    }
    co_await GracefulClose();
  }
};

SmtpClientConnection::SmtpClientConnection(asio::any_io_executor executor)
    : impl_(std::make_unique<Impl>(std::move(executor))) {}

SmtpClientConnection::~SmtpClientConnection() {
  if (impl_) impl_->CloseSocket();
}

asio::awaitable<ConnectResult> SmtpClientConnection::Connect(std::string address,
                                                             std::uint16_t port,
                                                             ClientOptions options) {
  ConnectResult result = co_await impl_->Connect(std::move(address), port, std::move(options));
  if (!result.ok()) co_await impl_->GracefulClose();
  co_return result;
}

asio::awaitable<TransactionResult> SmtpClientConnection::Send(Transaction transaction) {
  co_return co_await impl_->Send(std::move(transaction));
}

asio::awaitable<void> SmtpClientConnection::Quit() { co_await impl_->Quit(); }

void SmtpClientConnection::Close() { impl_->CloseSocket(); }

bool SmtpClientConnection::usable() const { return impl_->usable; }
const std::string& SmtpClientConnection::esmtp_available() const { return impl_->esmtp; }
const std::string& SmtpClientConnection::peer_address() const { return impl_->peer; }
const std::string& SmtpClientConnection::local_address() const { return impl_->local; }
bool SmtpClientConnection::tls() const { return impl_->tls_used; }
int SmtpClientConnection::transactions() const { return impl_->transactions; }

}  // namespace outpost::delivery
