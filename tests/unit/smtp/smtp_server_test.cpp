// Socket-level tests of SmtpServer: a real listener on 127.0.0.1 port 0, an in-memory spool whose
// commit handlers run on another thread (as the real spool's do), and a raw Asio client.
#include "mta/smtp/smtp_server.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "common/base64.hpp"
#include "mta/smtp/session.hpp"

namespace outpost::smtp {
namespace {

using asio::ip::tcp;

// Commits in memory; handlers run on the fake's own thread.
class FakeSpool : public spool::Spool {
 public:
  FakeSpool() : worker_([this] { Run(); }) {}
  ~FakeSpool() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    worker_.join();
  }
  spool::RecoveryReport Recover(const std::function<void(spool::RecoveredMessage&&)>&) override {
    return {};
  }
  void Start() override {}
  void Stop() override {}
  void Commit(spool::SpoolMessage message, spool::CommitHandler done) override {
    std::lock_guard<std::mutex> lock(mu_);
    pending_.emplace_back(std::move(message), std::move(done));
    cv_.notify_all();
  }
  bool ReadData(spool::SpoolId, std::string&) const override { return false; }
  bool ReadEnvelope(spool::SpoolId, spool::Envelope&) const override { return false; }
  void MarkRecipientDone(spool::SpoolId, std::uint32_t) override {}
  void MarkMessageDone(spool::SpoolId) override {}
  bool Healthy() const override { return healthy_; }
  spool::SpoolStats Stats() const override { return {}; }

  std::vector<spool::SpoolMessage> Committed() {
    std::lock_guard<std::mutex> lock(mu_);
    return committed_;
  }
  std::atomic<bool> healthy_{true};
  std::atomic<bool> fail_{false};

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [this] { return stop_ || !pending_.empty(); });
      if (pending_.empty()) return;
      auto [message, done] = std::move(pending_.front());
      pending_.pop_front();
      const bool fail = fail_;
      spool::SpoolId id{1, committed_.size()};
      if (!fail) committed_.push_back(std::move(message));
      lock.unlock();
      done(fail ? spool::CommitStatus::kDiskFull : spool::CommitStatus::kOk, id);
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<spool::SpoolMessage, spool::CommitHandler>> pending_;
  std::vector<spool::SpoolMessage> committed_;
  bool stop_ = false;
  std::thread worker_;
};

std::shared_ptr<config::Config> TestConfig() {
  auto c = std::make_shared<config::Config>();
  c->host_name = "mta.test";
  c->smtp_listeners.push_back(config::ListenAddress{"127.0.0.1", 0});
  config::SourcePolicy all;
  all.cidr = Cidr::Parse("0/0");
  all.always_allow_relaying = true;
  config::SourcePolicy auth;
  auth.name = "{auth}";
  auth.always_allow_relaying = true;
  c->sources = {all, auth};
  c->smtp_users.push_back(config::SmtpUser{"alice", "s3cret", "{auth}"});
  return c;
}

// Writes a self-signed EC certificate and key (one PEM file) into `path`.
bool WriteSelfSignedPem(const std::string& path) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (key == nullptr) return false;
  X509* cert = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("mta.test"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  bool ok = X509_sign(cert, key, EVP_sha256()) > 0;
  FILE* f = std::fopen(path.c_str(), "w");
  ok = ok && f != nullptr && PEM_write_X509(f, cert) == 1 &&
       PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  if (f) std::fclose(f);
  X509_free(cert);
  EVP_PKEY_free(key);
  return ok;
}

// Runs a server on its own io thread.
class ServerFixture {
 public:
  explicit ServerFixture(std::shared_ptr<config::Config> config,
                         acct::AccountingLog* accounting = nullptr)
      : server_(io_, config, spool_, accounting) {
    server_.SetAcceptedHandler([this](spool::SpoolId, const spool::Envelope& env, std::uint64_t) {
      std::lock_guard<std::mutex> lock(mu_);
      accepted_.push_back(env.id);
    });
    std::string error;
    ok_ = server_.Start(&error);
    EXPECT_TRUE(ok_) << error;
    const std::string addr = server_.BoundAddresses().at(0);
    port_ = static_cast<std::uint16_t>(std::stoi(addr.substr(addr.rfind(':') + 1)));
    guard_.emplace(io_.get_executor());
    thread_ = std::thread([this] { io_.run(); });
  }
  ~ServerFixture() {
    asio::post(io_, [this] { server_.Stop(); });
    guard_.reset();
    thread_.join();
  }
  ServerStats Stats() {
    std::promise<ServerStats> p;
    asio::post(io_, [&] { p.set_value(server_.Stats()); });
    return p.get_future().get();
  }
  std::vector<std::string> Accepted() {
    std::lock_guard<std::mutex> lock(mu_);
    return accepted_;
  }

  asio::io_context io_;
  FakeSpool spool_;
  SmtpServer server_;
  std::uint16_t port_ = 0;
  bool ok_ = false;
  std::mutex mu_;
  std::vector<std::string> accepted_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard_;
  std::thread thread_;
};

// A blocking client with a receive timeout (a deadline, not a sleep).
class Client {
 public:
  explicit Client(std::uint16_t port) : socket_(io_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    timeval tv{10, 0};
    setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  void Send(const std::string& s) {
    if (tls_) {
      asio::write(*tls_, asio::buffer(s));
    } else {
      asio::write(socket_, asio::buffer(s));
    }
  }
  // Reads until `n` complete replies have arrived (or EOF/timeout); returns the raw text.
  std::string ReadReplies(int n) {
    while (CountReplies(buffer_) < n) {
      char chunk[4096];
      asio::error_code ec;
      const std::size_t got = tls_ ? tls_->read_some(asio::buffer(chunk), ec)
                                   : socket_.read_some(asio::buffer(chunk), ec);
      if (ec) break;
      buffer_.append(chunk, got);
    }
    std::string text;
    int seen = 0;
    std::size_t pos = 0;
    while (seen < n && pos < buffer_.size()) {
      const std::size_t eol = buffer_.find("\r\n", pos);
      if (eol == std::string::npos) break;
      if (eol - pos >= 4 && buffer_[pos + 3] == ' ') ++seen;
      pos = eol + 2;
    }
    text = buffer_.substr(0, pos);
    buffer_.erase(0, pos);
    return text;
  }
  bool ReadEof() {
    char chunk[256];
    asio::error_code ec;
    socket_.read_some(asio::buffer(chunk), ec);
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  }
  void StartTls() {
    ctx_.set_verify_mode(asio::ssl::verify_none);
    tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(socket_, ctx_);
    tls_->handshake(asio::ssl::stream_base::client);
  }
  std::string TlsVersion() { return SSL_get_version(tls_->native_handle()); }

 private:
  static int CountReplies(const std::string& b) {
    int n = 0;
    std::size_t pos = 0;
    while (true) {
      const std::size_t eol = b.find("\r\n", pos);
      if (eol == std::string::npos) return n;
      if (eol - pos >= 4 && b[pos + 3] == ' ') ++n;
      pos = eol + 2;
    }
  }
  asio::io_context io_;
  tcp::socket socket_;
  asio::ssl::context ctx_{asio::ssl::context::tls_client};
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls_;
  std::string buffer_;
};

std::vector<std::string> ReplyCodes(const std::string& text) {
  std::vector<std::string> codes;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() >= 4 && line[3] == ' ') codes.push_back(line.substr(0, 3));
  }
  return codes;
}

TEST(SmtpServerTest, PipelinedSessionInOneWrite) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("smtp_server_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  config::AcctFile acct_file;
  acct_file.path = (dir / "acct.csv").string();
  std::string error;
  auto accounting = acct::AccountingLog::Open({acct_file}, &error);
  ASSERT_TRUE(accounting) << error;
  {
    ServerFixture f(TestConfig(), accounting.get());
    Client c(f.port_);
    c.Send(
        "EHLO client.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nRCPT "
        "TO:<c@y.test>\r\nDATA\r\nSubject: hi\r\n\r\n..dotted\r\n.\r\nNOOP\r\nQUIT\r\n");
    const std::string replies = c.ReadReplies(9);
    EXPECT_EQ(ReplyCodes(replies), (std::vector<std::string>{"220", "250", "250", "250", "250",
                                                             "354", "250", "250", "221"}))
        << replies;
    EXPECT_NE(replies.find("250-PIPELINING"), std::string::npos);
    EXPECT_TRUE(c.ReadEof());
    const auto committed = f.spool_.Committed();
    ASSERT_EQ(committed.size(), 1u);
    const spool::SpoolMessage& m = committed[0];
    EXPECT_NE(replies.find("250 2.0.0 OK " + m.envelope.id), std::string::npos) << replies;
    EXPECT_EQ(m.envelope.recipients, (std::vector<std::string>{"b@y.test", "c@y.test"}));
    EXPECT_EQ(m.envelope.source_ip, "127.0.0.1");
    EXPECT_EQ(m.data.rfind("Received: from client.test ([127.0.0.1])", 0), 0u) << m.data;
    EXPECT_NE(m.data.find("\r\n\r\n.dotted\r\n"), std::string::npos) << m.data;
    EXPECT_EQ(f.Accepted(), std::vector<std::string>{m.envelope.id});
    const ServerStats stats = f.Stats();
    EXPECT_EQ(stats.messages_accepted, 1u);
    EXPECT_EQ(stats.recipients_accepted, 2u);
    EXPECT_EQ(stats.connections_total, 1u);
    accounting->Flush();
    std::ifstream in(acct_file.path);
    std::stringstream text;
    text << in.rdbuf();
    const std::string acct = text.str();
    EXPECT_NE(acct.find("r,"), std::string::npos) << acct;
    EXPECT_NE(acct.find("b@y.test"), std::string::npos) << acct;
    EXPECT_NE(acct.find("c@y.test"), std::string::npos) << acct;
    EXPECT_NE(acct.find("client.test (127.0.0.1)"), std::string::npos) << acct;
  }
  accounting.reset();
  std::filesystem::remove_all(dir);
}

TEST(SmtpServerTest, SmugglingAttemptIsOneRejectedMessage) {
  ServerFixture f(TestConfig());
  Client c(f.port_);
  // "\n.\n" inside the data must not end the message, so the smuggled MAIL is never a command.
  c.Send(
      "EHLO c\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\nx\n.\nMAIL "
      "FROM:<evil@x.test>\r\nRCPT TO:<victim@y.test>\r\nDATA\r\nsmuggled\r\n.\r\nQUIT\r\n");
  const std::string replies = c.ReadReplies(7);
  EXPECT_EQ(ReplyCodes(replies),
            (std::vector<std::string>{"220", "250", "250", "250", "354", "550", "221"}))
      << replies;
  EXPECT_NE(replies.find("550 5.6.11"), std::string::npos);
  EXPECT_TRUE(f.spool_.Committed().empty());
  EXPECT_EQ(f.Stats().messages_rejected, 1u);
}

TEST(SmtpServerTest, SpoolFailureAnswers452) {
  ServerFixture f(TestConfig());
  f.spool_.fail_ = true;
  Client c(f.port_);
  c.Send("EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<b@y.test>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n");
  const std::string replies = c.ReadReplies(7);
  EXPECT_NE(replies.find("452 4.3.1"), std::string::npos) << replies;
  EXPECT_TRUE(f.Accepted().empty());
}

TEST(SmtpServerTest, PerIpConnectionCap) {
  auto config = TestConfig();
  config->max_smtp_in_per_ip = 1;
  ServerFixture f(config);
  Client first(f.port_);
  EXPECT_EQ(first.ReadReplies(1).substr(0, 3), "220");
  Client second(f.port_);
  EXPECT_EQ(second.ReadReplies(1).substr(0, 9), "421 4.7.0");
  EXPECT_TRUE(second.ReadEof());
  EXPECT_EQ(f.Stats().connections_refused, 1u);
}

TEST(SmtpServerTest, CommandTimeout) {
  auto config = TestConfig();
  config->smtp_in_command_timeout = std::chrono::seconds(1);
  ServerFixture f(config);
  Client c(f.port_);
  const std::string replies = c.ReadReplies(2);  // greeting, then the timeout reply
  EXPECT_NE(replies.find("421 4.4.2"), std::string::npos) << replies;
  EXPECT_TRUE(c.ReadEof());
}

TEST(SmtpServerTest, StartTlsThenAuth) {
  const auto pem = std::filesystem::temp_directory_path() /
                   ("smtp_server_test_" + std::to_string(::getpid()) + ".pem");
  ASSERT_TRUE(WriteSelfSignedPem(pem.string()));
  auto config = TestConfig();
  config->smtp_server_tls_certificate = pem.string();
  config->sources[0].always_allow_relaying = false;
  ServerFixture f(config);
  Client c(f.port_);
  // Commands pipelined after STARTTLS in clear text must be discarded (RFC 3207 section 5).
  c.Send("EHLO c\r\nSTARTTLS\r\nRSET\r\n");
  const std::string before = c.ReadReplies(3);
  EXPECT_NE(before.find("250 STARTTLS"), std::string::npos) << before;
  EXPECT_EQ(before.find("AUTH"), std::string::npos) << before;
  EXPECT_NE(before.find("220 2.0.0"), std::string::npos) << before;
  c.StartTls();
  EXPECT_TRUE(c.TlsVersion() == "TLSv1.2" || c.TlsVersion() == "TLSv1.3") << c.TlsVersion();
  c.Send("EHLO c\r\n");
  const std::string ehlo = c.ReadReplies(1);
  EXPECT_EQ(ehlo.substr(0, 4), "250-") << ehlo;  // not the RSET reply: it was discarded
  EXPECT_NE(ehlo.find("AUTH PLAIN LOGIN"), std::string::npos) << ehlo;
  EXPECT_EQ(ehlo.find("STARTTLS"), std::string::npos) << ehlo;
  c.Send("AUTH PLAIN " + EncodeBase64(std::string("\0alice\0s3cret", 13)) +
         "\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n");
  const std::string rest = c.ReadReplies(6);
  EXPECT_EQ(ReplyCodes(rest), (std::vector<std::string>{"235", "250", "250", "354", "250", "221"}))
      << rest;
  const auto committed = f.spool_.Committed();
  ASSERT_EQ(committed.size(), 1u);
  EXPECT_EQ(committed[0].envelope.auth_user, "alice");
  EXPECT_NE(committed[0].data.find("with ESMTPSA id"), std::string::npos) << committed[0].data;
  EXPECT_EQ(f.Stats().tls_handshakes, 1u);
  std::filesystem::remove(pem);
}

}  // namespace
}  // namespace outpost::smtp
