// SmtpClientConnection against a scripted server on 127.0.0.1 (port 0) running on the same
// io_context: pipelining (asserted by when each command reached the server), dot-stuffing, MAIL
// parameters, STARTTLS with a throwaway certificate, reuse, refusals, lost connections, timeouts
// (200 ms timeouts under test, not sleeps), refused ports and source address binding.
#include "mta/delivery/smtp_client.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace outpost::delivery {
namespace {

using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using namespace std::chrono_literals;

// --- the scripted server ---

struct Step {
  enum Kind { kSend, kExpect, kData, kStartTls, kClose, kSilence, kHold } kind = kSend;
  std::vector<std::string> parts;  // kSend: written one write each
  int lines = 1;                   // kExpect: command lines to read before going on
};
Step Send(std::string s) { return Step{Step::kSend, {std::move(s)}, 0}; }
Step SendSplit(std::vector<std::string> parts) { return Step{Step::kSend, std::move(parts), 0}; }
Step Expect(int lines = 1) { return Step{Step::kExpect, {}, lines}; }
Step Data() { return Step{Step::kData, {}, 0}; }
Step StartTls() { return Step{Step::kStartTls, {}, 0}; }
Step Close() { return Step{Step::kClose, {}, 0}; }
Step Silence() { return Step{Step::kSilence, {}, 0}; }
// Neither read nor write for 1 s (the client's writes back up), then close.
Step Hold() { return Step{Step::kHold, {}, 0}; }

struct Received {
  std::string text;      // a command line without CRLF, or DATA's raw bytes incl. ".\r\n"
  int replies_sent = 0;  // kSend steps done when the line's last byte arrived
  bool tls = false;
  bool data = false;
};

// A self-signed certificate made in memory for the STARTTLS test.
void UseThrowawayCertificate(asio::ssl::context& ctx) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  ASSERT_NE(key, nullptr);
  X509* cert = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("mx.test"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  ASSERT_GT(X509_sign(cert, key, EVP_sha256()), 0);
  ASSERT_EQ(SSL_CTX_use_certificate(ctx.native_handle(), cert), 1);
  ASSERT_EQ(SSL_CTX_use_PrivateKey(ctx.native_handle(), key), 1);
  X509_free(cert);
  EVP_PKEY_free(key);
}

class ScriptServer {
 public:
  // One script per accepted connection, in order.
  ScriptServer(asio::io_context& io, std::vector<std::vector<Step>> scripts)
      : io_(io),
        acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        scripts_(std::move(scripts)) {
    UseThrowawayCertificate(tls_ctx_);
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

  std::vector<Received> received;
  std::vector<std::string> peers;  // remote address per connection
  int connections = 0;
  int scripts_finished = 0;  // connections whose script ended (the socket is closed right after)
  std::string error;         // unexpected server-side failure

  // The command lines received (not DATA), in order.
  std::vector<std::string> Commands() const {
    std::vector<std::string> out;
    for (const Received& r : received) {
      if (!r.data) out.push_back(r.text);
    }
    return out;
  }
  std::vector<std::string> DataBlocks() const {
    std::vector<std::string> out;
    for (const Received& r : received) {
      if (r.data) out.push_back(r.text);
    }
    return out;
  }

  awaitable<void> Run() {
    for (auto& script : scripts_) {
      tcp::socket socket(io_);
      co_await acceptor_.async_accept(socket, use_awaitable);
      ++connections;
      peers.push_back(socket.remote_endpoint().address().to_string());
      try {
        co_await RunScript(socket, script);
      } catch (const std::exception& e) {
        error = e.what();
      }
      ++scripts_finished;
    }
  }

 private:
  awaitable<void> Write(const std::string& s) {
    if (tls_) {
      co_await asio::async_write(*tls_, asio::buffer(s), use_awaitable);
    } else {
      co_await asio::async_write(*socket_, asio::buffer(s), use_awaitable);
    }
  }
  awaitable<void> ReadMore() {
    char buf[8192];
    std::size_t n = tls_ ? co_await tls_->async_read_some(asio::buffer(buf), use_awaitable)
                         : co_await socket_->async_read_some(asio::buffer(buf), use_awaitable);
    for (std::size_t i = 0; i < n; ++i) {
      if (buf[i] == '\n') stamps_.push_back(sends_);
    }
    buf_.append(buf, n);
  }

  awaitable<void> RunScript(tcp::socket& socket, const std::vector<Step>& script) {
    socket_ = &socket;
    tls_.reset();
    buf_.clear();
    stamps_.clear();
    sends_ = 0;
    for (const Step& step : script) {
      switch (step.kind) {
        case Step::kSend:
          for (const std::string& p : step.parts) co_await Write(p);
          ++sends_;
          break;
        case Step::kExpect:
          for (int i = 0; i < step.lines; ++i) {
            while (buf_.find("\r\n") == std::string::npos) co_await ReadMore();
            std::size_t e = buf_.find("\r\n");
            received.push_back({buf_.substr(0, e), stamps_.front(), tls_ != nullptr, false});
            stamps_.erase(stamps_.begin());
            buf_.erase(0, e + 2);
          }
          break;
        case Step::kData: {
          // The body ends at the first CRLF.CRLF (or a lone ".\r\n" for an empty message).
          std::size_t e;
          while (true) {
            if (buf_.rfind(".\r\n", 0) == 0) {
              e = 0;
              break;
            }
            e = buf_.find("\r\n.\r\n");
            if (e != std::string::npos) {
              e += 2;
              break;
            }
            co_await ReadMore();
          }
          std::string block = buf_.substr(0, e + 3);
          int lines = 0;
          for (char c : block) lines += c == '\n';
          received.push_back({block, stamps_[lines - 1], tls_ != nullptr, true});
          stamps_.erase(stamps_.begin(), stamps_.begin() + lines);
          buf_.erase(0, e + 3);
          break;
        }
        case Step::kStartTls:
          tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(socket, tls_ctx_);
          co_await tls_->async_handshake(asio::ssl::stream_base::server, use_awaitable);
          break;
        case Step::kClose:
          tls_.reset();
          socket.close();
          co_return;
        case Step::kSilence: {
          // Say nothing; wait for the client to give up and close.
          asio::error_code ec;
          char b[512];
          while (!ec) {
            co_await socket.async_read_some(asio::buffer(b),
                                            asio::redirect_error(use_awaitable, ec));
          }
          co_return;
        }
        case Step::kHold: {
          asio::steady_timer hold(io_, 1s);
          co_await hold.async_wait(use_awaitable);
          co_return;
        }
      }
    }
    tls_.reset();
  }

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  std::vector<std::vector<Step>> scripts_;
  asio::ssl::context tls_ctx_{asio::ssl::context::tls_server};
  tcp::socket* socket_ = nullptr;
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls_;
  std::string buf_;
  std::vector<int> stamps_;
  int sends_ = 0;
};

// Runs the server and `client` on one io_context until both finish (10 s safety deadline).
void RunScripted(asio::io_context& io, ScriptServer& server,
                 std::function<awaitable<void>()> client) {
  bool client_done = false, server_done = false;
  asio::co_spawn(io, server.Run(), [&](std::exception_ptr e) {
    if (e) server.error = "server coroutine failed";
    server_done = true;
  });
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        co_await client();
        client_done = true;
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  asio::steady_timer safety(io, 10s);
  safety.async_wait([&](const asio::error_code& ec) {
    if (!ec) io.stop();
  });
  while (!(client_done && server_done) && io.run_one()) {
  }
  EXPECT_TRUE(client_done) << "client did not finish before the safety deadline";
  EXPECT_TRUE(server_done) << "server script did not finish before the safety deadline";
  EXPECT_EQ(server.error, "");
}

// Builds a Transaction outside co_await expressions (works around a GCC 12 coroutine bug with
// string literals in aggregate initializers).
Transaction Tx(std::string from, std::vector<std::string> rcpts, const std::string* data,
               bool body_8bit = false, std::string env_id = std::string()) {
  Transaction t;
  t.mail_from = std::move(from);
  t.recipients = std::move(rcpts);
  t.data = data;
  t.body_8bit = body_8bit;
  t.env_id = std::move(env_id);
  return t;
}

ClientOptions FastOptions() {
  ClientOptions o;
  o.ehlo_name = "client.test";
  o.timeouts.connect = 2s;
  o.timeouts.greeting = 2s;
  o.timeouts.command = 2s;
  o.timeouts.data_send = 2s;
  o.timeouts.data_termination = 2s;
  return o;
}

const char* kGreeting = "220 mx.test ESMTP\r\n";

// --- tests ---

TEST(SmtpClient, PipelinedTransactionWithPartialRefusal) {
  asio::io_context io;
  const std::string body = "Subject: hi\r\n\r\nhello\r\n";
  ScriptServer server(
      io, {{Send(kGreeting), Expect(),
            // EHLO reply split inside a keyword and across lines.
            SendSplit({"250-mx.test hello\r\n250-PIPEL", "INING\r\n250-SIZE 1000000\r\n250-8BIT",
                       "MIME\r\n250 ENHANCEDSTATUSCODES\r\n"}),
            Expect(4),  // MAIL, RCPT, RCPT, DATA before any reply: only a pipelining client
            SendSplit({"250 2.1.0 ok\r\n250 2.1.5 ok\r\n550-5.1.1 no such", " user\r\n550 5.1.1 ",
                       "bye\r\n354 go ahead\r\n"}),
            Data(), Send("250 2.0.0 queued as X1\r\n"), Expect(), Send("221 bye\r\n"), Close()}});
  ConnectResult cr;
  TransactionResult tr;
  SmtpClientConnection conn(io.get_executor());
  RunScripted(io, server, [&]() -> awaitable<void> {
    cr = co_await conn.Connect("127.0.0.1", server.port(), FastOptions());
    Transaction t = Tx("s@a.test", {"r1@b.test", "r2@b.test"}, &body, true);
    tr = co_await conn.Send(t);
    co_await conn.Quit();
  });
  ASSERT_TRUE(cr.ok()) << cr.error;
  EXPECT_EQ(conn.esmtp_available(), "PIPELINING,8BITMIME,SIZE");
  EXPECT_FALSE(tr.connection_lost);
  EXPECT_EQ(tr.OutcomeFor(0).Full(), "250 2.0.0 queued as X1");
  EXPECT_EQ(tr.OutcomeFor(1).Full(), "550 5.1.1 no such user bye");
  EXPECT_EQ(conn.transactions(), 1);
  const std::vector<std::string> want = {
      "EHLO client.test",
      "MAIL FROM:<s@a.test> SIZE=" + std::to_string(body.size()) + " BODY=8BITMIME",
      "RCPT TO:<r1@b.test>",
      "RCPT TO:<r2@b.test>",
      "DATA",
      "QUIT"};
  EXPECT_EQ(server.Commands(), want);
  ASSERT_EQ(server.received.size(), 7u);
  for (int i = 1; i <= 4; ++i) {
    EXPECT_EQ(server.received[i].replies_sent, 2) << "sent without waiting: " << want[i];
  }
  EXPECT_EQ(server.DataBlocks(), std::vector<std::string>{body + ".\r\n"});
}

TEST(SmtpClient, WithoutPipeliningWaitsForEachReply) {
  asio::io_context io;
  const std::string body = "x\r\n";
  ScriptServer server(
      io, {{Send(kGreeting), Expect(), Send("250-mx.test\r\n250 SIZE\r\n"), Expect(),
            Send("250 ok\r\n"), Expect(), Send("250 ok\r\n"), Expect(), Send("250 ok\r\n"),
            Expect(), Send("354 go\r\n"), Data(), Send("250 done\r\n"), Close()}});
  // Null sender; 8-bit body but no 8BITMIME offered: no BODY=.
  const Transaction tx = Tx("", {"a@b.test", "c@b.test"}, &body, true, "ENV1");
  TransactionResult tr;
  SmtpClientConnection conn(io.get_executor());
  RunScripted(io, server, [&]() -> awaitable<void> {
    ConnectResult cr = co_await conn.Connect("127.0.0.1", server.port(), FastOptions());
    EXPECT_TRUE(cr.ok()) << cr.error;
    tr = co_await conn.Send(tx);
  });
  EXPECT_EQ(conn.esmtp_available(), "SIZE");
  EXPECT_EQ(tr.OutcomeFor(1).Full(), "250 done");
  const std::vector<std::string> want = {"EHLO client.test", "MAIL FROM:<> SIZE=3",
                                         "RCPT TO:<a@b.test>", "RCPT TO:<c@b.test>", "DATA"};
  EXPECT_EQ(server.Commands(), want);
  // Each command reached the server only after the reply to the previous one was sent.
  for (std::size_t i = 0; i < server.received.size(); ++i) {
    EXPECT_EQ(server.received[i].replies_sent, static_cast<int>(i) + 1) << server.received[i].text;
  }
}

TEST(SmtpClient, DotStuffingAndReuse) {
  struct Case {
    const char* label;
    std::string data;
    std::string wire;  // what the server must receive, terminator included
  };
  std::vector<Case> cases = {
      {"dot at start of a line", "a\r\n.b\r\n", "a\r\n..b\r\n.\r\n"},
      {"lone dot line", "a\r\n.\r\nb\r\n", "a\r\n..\r\nb\r\n.\r\n"},
      {"dot at the very start", ".x\r\n", "..x\r\n.\r\n"},
      {"dot inside a line untouched", "a.b\r\n", "a.b\r\n.\r\n"},
      {"missing final CRLF added", "abc", "abc\r\n.\r\n"},
      {"empty message", "", ".\r\n"},
      {"bare LF becomes CRLF", "a\n.b\n", "a\r\n..b\r\n.\r\n"},
      {"bare CR becomes CRLF", "a\r.\r\n", "a\r\n..\r\n.\r\n"},
  };
  // Several write chunks, every line starting with a dot, one line crossing each 64 KiB boundary.
  Case big{"300 KiB of dotted lines", "", ""};
  for (int i = 0; big.data.size() < 300 * 1024; ++i) {
    std::string line = ".line " + std::to_string(i) + std::string(i % 97, 'x');
    big.data += line + "\r\n";
    big.wire += "." + line + "\r\n";
  }
  big.wire += ".\r\n";
  cases.push_back(big);

  asio::io_context io;
  std::vector<Step> script = {Send(kGreeting), Expect(), Send("250-mx.test\r\n250 PIPELINING\r\n")};
  for (std::size_t i = 0; i < cases.size(); ++i) {
    for (Step s : {Expect(3), Send("250 ok\r\n250 ok\r\n354 go\r\n"), Data(),
                   Send("250 ok " + std::to_string(i) + "\r\n")}) {
      script.push_back(s);
    }
  }
  script.push_back(Close());
  ScriptServer server(io, {script});
  std::vector<TransactionResult> results;
  const std::string sender = "s@a.test";
  const std::vector<std::string> rcpts = {"r@b.test"};
  SmtpClientConnection conn(io.get_executor());
  RunScripted(io, server, [&]() -> awaitable<void> {
    ConnectResult cr = co_await conn.Connect("127.0.0.1", server.port(), FastOptions());
    EXPECT_TRUE(cr.ok()) << cr.error;
    for (const Case& c : cases) {
      results.push_back(co_await conn.Send(Tx(sender, rcpts, &c.data)));
    }
  });
  EXPECT_EQ(server.connections, 1);
  EXPECT_EQ(conn.transactions(), static_cast<int>(cases.size()));
  std::vector<std::string> blocks = server.DataBlocks();
  ASSERT_EQ(blocks.size(), cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].label);
    EXPECT_TRUE(blocks[i] == cases[i].wire)
        << "got " << blocks[i].size() << " bytes, want " << cases[i].wire.size();
    EXPECT_EQ(results[i].OutcomeFor(0).Full(), "250 ok " + std::to_string(i));
  }
}

TEST(SmtpClient, ThreeTransactionsOnOneConnection) {
  asio::io_context io;
  const std::string body = "m\r\n";
  std::vector<Step> script = {Send(kGreeting), Expect(),
                              Send("250-mx.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n")};
  for (int i = 0; i < 3; ++i) {
    for (Step s : {Expect(3), Send("250 ok\r\n250 ok\r\n354 go\r\n"), Data(), Send("250 ok\r\n")}) {
      script.push_back(s);
    }
  }
  for (Step s : {Expect(), Send("221 bye\r\n"), Close()}) script.push_back(s);
  ScriptServer server(io, {script});
  SmtpClientConnection conn(io.get_executor());
  const std::string sender = "s@a.test";
  const std::string rcpt[] = {"r0@b.test", "r1@b.test", "r2@b.test"};
  int ok = 0;
  RunScripted(io, server, [&]() -> awaitable<void> {
    ConnectResult cr = co_await conn.Connect("127.0.0.1", server.port(), FastOptions());
    EXPECT_TRUE(cr.ok()) << cr.error;
    for (int i = 0; i < 3; ++i) {
      std::vector<std::string> one = {rcpt[i]};
      TransactionResult tr = co_await conn.Send(Tx(sender, one, &body, false));
      ok += tr.OutcomeFor(0).code == 250;
      EXPECT_TRUE(conn.usable());
    }
    EXPECT_EQ(conn.transactions(), 3);
    co_await conn.Quit();
    EXPECT_FALSE(conn.usable());
  });
  EXPECT_EQ(ok, 3);
  EXPECT_EQ(server.connections, 1);
  std::vector<std::string> cmds = server.Commands();
  ASSERT_EQ(cmds.size(), 11u);
  EXPECT_EQ(cmds[1], "MAIL FROM:<s@a.test>") << "body_8bit false: no BODY=";
  EXPECT_EQ(cmds[8], "RCPT TO:<r2@b.test>");
  EXPECT_EQ(cmds[10], "QUIT");
}

TEST(SmtpClient, HeloFallbackWhenEhloRefused) {
  asio::io_context io;
  const std::string body = "m\r\n";
  ScriptServer server(
      io, {{Send(kGreeting), Expect(), Send("502 5.5.2 what\r\n"), Expect(),
            Send("250 mx.test\r\n"), Expect(), Send("250 ok\r\n"), Expect(), Send("250 ok\r\n"),
            Expect(), Send("354 go\r\n"), Data(), Send("250 ok\r\n"), Close()}});
  const Transaction tx = Tx("s@a.test", {"r@b.test"}, &body, true, "E1");
  SmtpClientConnection conn(io.get_executor());
  TransactionResult tr;
  RunScripted(io, server, [&]() -> awaitable<void> {
    ConnectResult cr = co_await conn.Connect("127.0.0.1", server.port(), FastOptions());
    EXPECT_TRUE(cr.ok()) << cr.error;
    tr = co_await conn.Send(tx);
  });
  EXPECT_EQ(conn.esmtp_available(), "");
  EXPECT_EQ(tr.OutcomeFor(0).code, 250);
  const std::vector<std::string> want = {"EHLO client.test", "HELO client.test",
                                         "MAIL FROM:<s@a.test>", "RCPT TO:<r@b.test>", "DATA"};
  EXPECT_EQ(server.Commands(), want);
}

TEST(SmtpClient, StartTls) {
  asio::io_context io;
  const std::string body = "secret\r\n";
  ScriptServer server(
      io, {{Send(kGreeting), Expect(), Send("250-mx.test\r\n250-STARTTLS\r\n250 SIZE\r\n"),
            Expect(), Send("220 2.0.0 ready\r\n"), StartTls(), Expect(),
            Send("250-mx.test\r\n250-PIPELINING\r\n250 SIZE\r\n"), Expect(3),
            Send("250 ok\r\n250 ok\r\n354 go\r\n"), Data(), Send("250 ok\r\n"), Close()}});
  const Transaction tx = Tx("s@a.test", {"r@b.test"}, &body);
  SmtpClientConnection conn(io.get_executor());
  TransactionResult tr;
  RunScripted(io, server, [&]() -> awaitable<void> {
    ConnectResult cr = co_await conn.Connect("127.0.0.1", server.port(), FastOptions());
    EXPECT_TRUE(cr.ok()) << cr.error;
    tr = co_await conn.Send(tx);
  });
  EXPECT_TRUE(conn.tls());
  EXPECT_EQ(conn.esmtp_available(), "PIPELINING,SIZE,STARTTLS");
  EXPECT_EQ(tr.OutcomeFor(0).code, 250);
  ASSERT_EQ(server.received.size(), 7u);
  EXPECT_EQ(server.received[1].text, "STARTTLS");
  EXPECT_FALSE(server.received[1].tls);
  EXPECT_EQ(server.received[2].text, "EHLO client.test");
  EXPECT_TRUE(server.received[2].tls) << "EHLO again after the handshake";
  EXPECT_TRUE(server.received[6].tls && server.received[6].data) << "body over TLS";
  EXPECT_EQ(server.received[6].text, body + ".\r\n");
}

TEST(SmtpClient, StartTlsPolicies) {
  struct Case {
    const char* label;
    bool offer, use, require;
    ConnectFailure failure;
    std::vector<std::string> commands;
  };
  const Case cases[] = {
      {"required but not offered", false, true, true, ConnectFailure::kTls, {"EHLO client.test"}},
      {"offered but disabled", true, false, false, ConnectFailure::kNone, {"EHLO client.test"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    asio::io_context io;
    std::string ehlo = c.offer ? "250-mx.test\r\n250 STARTTLS\r\n" : "250 mx.test\r\n";
    ScriptServer server(io, {{Send(kGreeting), Expect(), Send(ehlo), Silence()}});
    SmtpClientConnection conn(io.get_executor());
    ConnectResult cr;
    RunScripted(io, server, [&]() -> awaitable<void> {
      ClientOptions o = FastOptions();
      o.use_starttls = c.use;
      o.require_starttls = c.require;
      cr = co_await conn.Connect("127.0.0.1", server.port(), o);
      conn.Close();
    });
    EXPECT_EQ(cr.failure, c.failure) << cr.error;
    EXPECT_FALSE(conn.tls());
    EXPECT_EQ(server.Commands(), c.commands);
  }
}

TEST(SmtpClient, ConnectFailures) {
  struct Case {
    const char* label;
    std::vector<Step> script;
    ConnectFailure failure;
    int reply_code;
  };
  const Case cases[] = {
      {"greeting 421", {Send("421 4.3.2 busy\r\n"), Silence()}, ConnectFailure::kGreeting, 421},
      {"greeting 554", {Send("554 go away\r\n"), Silence()}, ConnectFailure::kGreeting, 554},
      {"greeting silent: timeout", {Silence()}, ConnectFailure::kTimeout, 0},
      {"closed before greeting", {Close()}, ConnectFailure::kDropped, 0},
      {"greeting split then closed",
       {Send("220-mx.test\r\n"), Close()},
       ConnectFailure::kDropped,
       0},
      {"EHLO 421",
       {Send(kGreeting), Expect(), Send("421 4.7.0 later\r\n"), Silence()},
       ConnectFailure::kGreeting,
       421},
      {"EHLO silent: timeout", {Send(kGreeting), Expect(), Silence()}, ConnectFailure::kTimeout, 0},
      {"malformed greeting", {Send("hello there\r\n"), Silence()}, ConnectFailure::kDropped, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    asio::io_context io;
    ScriptServer server(io, {c.script});
    SmtpClientConnection conn(io.get_executor());
    ConnectResult cr;
    auto start = std::chrono::steady_clock::now();
    RunScripted(io, server, [&]() -> awaitable<void> {
      ClientOptions o = FastOptions();
      o.timeouts.greeting = 200ms;
      o.timeouts.command = 200ms;
      cr = co_await conn.Connect("127.0.0.1", server.port(), o);
    });
    auto elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(cr.failure, c.failure) << cr.error;
    EXPECT_EQ(cr.reply.code, c.reply_code);
    EXPECT_FALSE(cr.error.empty());
    EXPECT_FALSE(conn.usable());
    if (c.failure == ConnectFailure::kTimeout) {
      EXPECT_GE(elapsed, 150ms) << "the phase timeout, not something else, ended it";
      EXPECT_LT(elapsed, 5s);
    }
  }
}

TEST(SmtpClient, RefusedPort) {
  asio::io_context io;
  std::uint16_t port;
  {
    tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = a.local_endpoint().port();
  }  // closed: nothing listens there now
  SmtpClientConnection conn(io.get_executor());
  ConnectResult cr;
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> { cr = co_await conn.Connect("127.0.0.1", port, FastOptions()); },
      asio::detached);
  io.run_for(10s);
  EXPECT_EQ(cr.failure, ConnectFailure::kRefused) << cr.error;
  EXPECT_NE(cr.error.find("127.0.0.1:" + std::to_string(port)), std::string::npos) << cr.error;
}

TEST(SmtpClient, BindsSourceAddress) {
  struct Case {
    const char* label;
    std::string source;
    ConnectFailure failure;
  };
  const Case cases[] = {
      {"127.0.0.2", "127.0.0.2", ConnectFailure::kNone},
      {"not an address", "bogus", ConnectFailure::kBind},
      {"address not on this host", "192.0.2.1", ConnectFailure::kBind},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    asio::io_context io;
    ScriptServer server(
        io, {{Send(kGreeting), Expect(), Send("250 mx.test\r\n"), Expect(), Send("221 bye\r\n")}});
    SmtpClientConnection conn(io.get_executor());
    ConnectResult cr;
    std::string local;
    bool ran = false;
    asio::co_spawn(io, server.Run(), asio::detached);
    asio::co_spawn(
        io,
        [&]() -> awaitable<void> {
          ClientOptions o = FastOptions();
          o.source_address = c.source;
          cr = co_await conn.Connect("127.0.0.1", server.port(), o);
          local = conn.local_address();
          co_await conn.Quit();
          ran = true;
        },
        asio::detached);
    // The server records the peer when it accepts, before its greeting: done by the time the
    // client has finished.
    while (!ran && io.run_one_for(10s)) {
    }
    EXPECT_EQ(cr.failure, c.failure) << cr.error;
    if (c.failure == ConnectFailure::kNone) {
      ASSERT_EQ(server.peers.size(), 1u);
      EXPECT_EQ(server.peers[0], "127.0.0.2") << "the server saw the bound source address";
      EXPECT_EQ(local, "127.0.0.2");
    } else {
      EXPECT_EQ(server.connections, 0);
    }
  }
}

TEST(SmtpClient, TransactionFailures) {
  const std::string body = "Subject: t\r\n\r\nbody line\r\n";
  const std::string ehlo_pipe = "250-mx.test\r\n250 PIPELINING\r\n";
  struct Case {
    const char* label;
    std::vector<Step> script;  // after greeting + EHLO
    bool lost;
    int outcome0, outcome1;               // OutcomeFor(0), OutcomeFor(1)
    std::vector<std::string> after_ehlo;  // commands the server saw after EHLO
    std::vector<std::string> data;        // DATA blocks
    bool usable_after;
  };
  const Case cases[] = {
      {"rcpt partially refused (pipelined)",
       {Send(ehlo_pipe), Expect(4), Send("250 ok\r\n550 5.1.1 no\r\n250 ok\r\n354 go\r\n"), Data(),
        Send("250 2.0.0 ok\r\n"), Silence()},
       false,
       550,
       250,
       {"MAIL FROM:<s@a.test>", "RCPT TO:<r0@b.test>", "RCPT TO:<r1@b.test>", "DATA"},
       {body + ".\r\n"},
       true},
      {"DATA refused (pipelined): RSET, no body",
       {Send(ehlo_pipe), Expect(4), Send("250 ok\r\n250 ok\r\n250 ok\r\n554 5.7.1 no data\r\n"),
        Expect(), Send("250 reset\r\n"), Silence()},
       false,
       554,
       554,
       {"MAIL FROM:<s@a.test>", "RCPT TO:<r0@b.test>", "RCPT TO:<r1@b.test>", "DATA", "RSET"},
       {},
       true},
      {"no valid rcpt, DATA 503: RSET, no body",
       {Send(ehlo_pipe), Expect(4),
        Send("250 ok\r\n550 5.1.1 a\r\n551 5.1.1 b\r\n503 5.5.1 no rcpt\r\n"), Expect(),
        Send("250 reset\r\n"), Silence()},
       false,
       550,
       551,
       {"MAIL FROM:<s@a.test>", "RCPT TO:<r0@b.test>", "RCPT TO:<r1@b.test>", "DATA", "RSET"},
       {},
       true},
      {"no valid rcpt but DATA 354: empty message, reply ignored",
       {Send(ehlo_pipe), Expect(4), Send("250 ok\r\n550 5.1.1 a\r\n550 5.1.1 b\r\n354 go\r\n"),
        Data(), Send("554 5.5.1 no valid recipients\r\n"), Silence()},
       false,
       550,
       550,
       {"MAIL FROM:<s@a.test>", "RCPT TO:<r0@b.test>", "RCPT TO:<r1@b.test>", "DATA"},
       {".\r\n"},
       true},
      {"MAIL refused (not pipelined): no RCPT sent",
       {Send("250 mx.test\r\n"), Expect(), Send("553 5.1.8 bad sender\r\n"), Silence()},
       false,
       553,
       553,
       {"MAIL FROM:<s@a.test>"},
       {},
       true},
      {"all rcpts refused (not pipelined): RSET, no DATA",
       {Send("250 mx.test\r\n"), Expect(), Send("250 ok\r\n"), Expect(), Send("550 a\r\n"),
        Expect(), Send("550 b\r\n"), Expect(), Send("250 ok\r\n"), Silence()},
       false,
       550,
       550,
       {"MAIL FROM:<s@a.test>", "RCPT TO:<r0@b.test>", "RCPT TO:<r1@b.test>", "RSET"},
       {},
       true},
      {"connection lost mid-DATA",
       {Send(ehlo_pipe), Expect(4), Send("250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n"), Expect(),
        Close()},
       true,
       0,
       0,
       {"MAIL FROM:<s@a.test>", "RCPT TO:<r0@b.test>", "RCPT TO:<r1@b.test>", "DATA", "Subject: t"},
       {},
       false},
      {"connection lost before RCPT replies",
       {Send(ehlo_pipe), Expect(4), Send("250 ok\r\n"), Close()},
       true,
       0,
       0,
       {"MAIL FROM:<s@a.test>", "RCPT TO:<r0@b.test>", "RCPT TO:<r1@b.test>", "DATA"},
       {},
       false},
      {"silent after the body: data timeout",
       {Send(ehlo_pipe), Expect(4), Send("250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n"), Data(),
        Silence()},
       true,
       0,
       0,
       {"MAIL FROM:<s@a.test>", "RCPT TO:<r0@b.test>", "RCPT TO:<r1@b.test>", "DATA"},
       {body + ".\r\n"},
       false},
      {"421 to RCPT: outcome kept, connection not reused",
       {Send("250 mx.test\r\n"), Expect(), Send("250 ok\r\n"), Expect(),
        Send("421 4.7.0 closing\r\n"), Close()},
       false,
       421,
       0,
       {"MAIL FROM:<s@a.test>", "RCPT TO:<r0@b.test>"},
       {},
       false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    asio::io_context io;
    std::vector<Step> script = {Send(kGreeting), Expect()};
    script.insert(script.end(), c.script.begin(), c.script.end());
    ScriptServer server(io, {script});
    const Transaction tx = Tx("s@a.test", {"r0@b.test", "r1@b.test"}, &body);
    SmtpClientConnection conn(io.get_executor());
    TransactionResult tr;
    bool usable = false;
    RunScripted(io, server, [&]() -> awaitable<void> {
      ClientOptions o = FastOptions();
      o.timeouts.data_termination = 200ms;
      ConnectResult cr = co_await conn.Connect("127.0.0.1", server.port(), o);
      EXPECT_TRUE(cr.ok()) << cr.error;
      tr = co_await conn.Send(tx);
      usable = conn.usable();
      conn.Close();
    });
    EXPECT_EQ(tr.connection_lost, c.lost);
    EXPECT_EQ(tr.OutcomeFor(0).code, c.outcome0) << tr.OutcomeFor(0).Full();
    EXPECT_EQ(tr.OutcomeFor(1).code, c.outcome1) << tr.OutcomeFor(1).Full();
    std::vector<std::string> cmds = server.Commands();
    ASSERT_FALSE(cmds.empty());
    cmds.erase(cmds.begin());  // EHLO
    EXPECT_EQ(cmds, c.after_ehlo);
    EXPECT_EQ(server.DataBlocks(), c.data);
    EXPECT_EQ(usable, c.usable_after);
  }
}

// Timeouts of the body phase: the pending reply names the timeout (accounting's dsnDiag).
TEST(SmtpClient, DataPhaseTimeoutsNameTheTimeout) {
  struct Case {
    const char* label;
    std::size_t body_bytes;
    Step after_354;
    std::chrono::milliseconds data_send, data_termination;
    const char* want_text;
  };
  const Case cases[] = {
      {"receiver silent after the final dot", 10, Data(), 2s, 200ms,
       "timeout after 200ms waiting for the reply to the final dot"},
      // 64 MiB cannot fit in loopback socket buffers while the receiver reads nothing.
      {"receiver stops reading the body", 64u << 20, Hold(), 200ms, 2s,
       "timeout after 200ms sending the message"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    asio::io_context io;
    const std::string body(c.body_bytes, 'x');
    std::vector<Step> script = {Send(kGreeting),    Expect(),   Send("250 mx.test\r\n"), Expect(),
                                Send("250 ok\r\n"), Expect(),   Send("250 ok\r\n"),      Expect(),
                                Send("354 go\r\n"), c.after_354};
    if (c.after_354.kind == Step::kData) script.push_back(Silence());
    ScriptServer server(io, {script});
    const Transaction tx = Tx("s@a.test", {"r@b.test"}, &body);
    SmtpClientConnection conn(io.get_executor());
    TransactionResult tr;
    std::chrono::steady_clock::duration elapsed{};
    RunScripted(io, server, [&]() -> awaitable<void> {
      ClientOptions o = FastOptions();
      o.timeouts.data_send = c.data_send;
      o.timeouts.data_termination = c.data_termination;
      ConnectResult cr = co_await conn.Connect("127.0.0.1", server.port(), o);
      EXPECT_TRUE(cr.ok()) << cr.error;
      auto start = std::chrono::steady_clock::now();
      tr = co_await conn.Send(tx);
      elapsed = std::chrono::steady_clock::now() - start;
    });
    EXPECT_TRUE(tr.connection_lost);
    EXPECT_EQ(tr.OutcomeFor(0).code, 0);
    EXPECT_EQ(tr.OutcomeFor(0).text, c.want_text);
    EXPECT_GE(elapsed, 150ms);
    EXPECT_LT(elapsed, 1900ms) << "the 2 s timeout of the other phase did not apply";
    EXPECT_FALSE(conn.usable());
  }
}

// A failed handshake after STARTTLS's 220 is flagged, so the caller can fall back to plain text.
TEST(SmtpClient, TlsHandshakeFailureIsFlagged) {
  struct Case {
    const char* label;
    std::vector<Step> after_starttls;
    bool require;
    ConnectFailure failure;
    bool handshake_failed;
  };
  const Case cases[] = {
      {"220 then not TLS",
       {Send("220 2.0.0 go\r\n"), Send("this is not a ServerHello\r\n"), Close()},
       false,
       ConnectFailure::kTls,
       true},
      {"220 then not TLS, required",
       {Send("220 2.0.0 go\r\n"), Send("this is not a ServerHello\r\n"), Close()},
       true,
       ConnectFailure::kTls,
       true},
      {"454 refused: plain text on the same connection",
       {Send("454 4.7.0 not now\r\n"), Silence()},
       false,
       ConnectFailure::kNone,
       false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    asio::io_context io;
    std::vector<Step> script = {Send(kGreeting), Expect(), Send("250-mx.test\r\n250 STARTTLS\r\n"),
                                Expect()};
    script.insert(script.end(), c.after_starttls.begin(), c.after_starttls.end());
    ScriptServer server(io, {script});
    SmtpClientConnection conn(io.get_executor());
    ConnectResult cr;
    RunScripted(io, server, [&]() -> awaitable<void> {
      ClientOptions o = FastOptions();
      o.require_starttls = c.require;
      cr = co_await conn.Connect("127.0.0.1", server.port(), o);
      conn.Close();
    });
    EXPECT_EQ(cr.failure, c.failure) << cr.error;
    EXPECT_EQ(cr.tls_handshake_failed, c.handshake_failed) << cr.error;
    EXPECT_FALSE(conn.tls());
  }
}

// Quit() and a failed Connect() return only after the receiver has closed its side: the client
// half-closes and reads to EOF, so a receiver counting connections has dropped this one first.
TEST(SmtpClient, GracefulCloseWaitsForThePeer) {
  struct Case {
    const char* label;
    std::vector<Step> script;
    bool connect_ok;
  };
  const Case cases[] = {
      {"after QUIT",
       {Send(kGreeting), Expect(), Send("250 mx.test\r\n"), Expect(), Send("221 bye\r\n"),
        Silence()},
       true},
      {"after a 421 greeting", {Send("421 4.3.2 busy\r\n"), Silence()}, false},
      {"after a 421 to EHLO",
       {Send(kGreeting), Expect(), Send("421 4.7.0 later\r\n"), Silence()},
       false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    asio::io_context io;
    ScriptServer server(io, {c.script});
    SmtpClientConnection conn(io.get_executor());
    ConnectResult cr;
    int finished_when_closed = -1;
    RunScripted(io, server, [&]() -> awaitable<void> {
      cr = co_await conn.Connect("127.0.0.1", server.port(), FastOptions());
      if (cr.ok()) co_await conn.Quit();
      finished_when_closed = server.scripts_finished;
    });
    EXPECT_EQ(cr.ok(), c.connect_ok) << cr.error;
    EXPECT_EQ(finished_when_closed, 1) << "the client did not wait for the server to close";
    EXPECT_FALSE(conn.usable());
  }
}

TEST(SmtpClient, SendOnUnusableConnection) {
  asio::io_context io;
  const std::string body = "x\r\n";
  const Transaction tx = Tx("s@a.test", {"r@b.test"}, &body);
  SmtpClientConnection conn(io.get_executor());
  TransactionResult tr;
  asio::co_spawn(
      io, [&]() -> awaitable<void> { tr = co_await conn.Send(tx); }, asio::detached);
  io.run();
  EXPECT_TRUE(tr.connection_lost);
  EXPECT_EQ(tr.rcpt_replies.size(), 1u);
  EXPECT_EQ(tr.OutcomeFor(0).code, 0);
  EXPECT_EQ(conn.transactions(), 0);
}

}  // namespace
}  // namespace outpost::delivery
