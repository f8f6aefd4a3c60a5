#include "mta/delivery/smtp_deliverer.hpp"

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/ip/address.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>
#include <cctype>
#include <chrono>
#include <utility>

#include "common/invariant.hpp"
#include "common/strings.hpp"
#include "mta/log/log.hpp"

namespace outpost::delivery {
namespace {

bool IsAddress(const std::string& host) {
  std::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

std::string StripBrackets(std::string host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host;
}

// Awaits a resolver callback. The result is posted, so a callback run inside `start` (a cache
// hit) never resumes the coroutine from within its own initiation.
template <typename Result, typename Start>
asio::awaitable<Result> AwaitCallback(asio::io_context& io, Start start) {
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(Result)>(
      [&io, start](auto handler) mutable {
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        start([&io, shared](Result result) {
          asio::post(
              io, [shared, result = std::move(result)]() mutable { (*shared)(std::move(result)); });
        });
      },
      asio::use_awaitable);
}

// A host name as a memory key: lower case, no trailing dot.
std::string HostKey(std::string host) {
  AsciiLowercaseInPlace(host);
  if (!host.empty() && host.back() == '.') host.pop_back();
  return host;
}

constexpr std::chrono::seconds kMinSaveInterval{1};

}  // namespace

SmtpDeliverer::SmtpDeliverer(asio::io_context& io, dns::Resolver& resolver,
                             const outpost::Clock& clock, SmtpDelivererOptions options)
    : io_(io),
      resolver_(resolver),
      clock_(clock),
      options_(std::move(options)),
      tls_failures_(clock),
      save_timer_(io) {
  if (options_.tls_memory_path.empty()) return;
  std::size_t loaded = 0;
  std::string error;
  if (!tls_failures_.Load(options_.tls_memory_path, &loaded, &error)) {
    OUTPOST_LOG(kWarning, "delivery") << "TLS failure memory not loaded: " << error;
  } else if (loaded > 0) {
    OUTPOST_LOG(kInfo, "delivery")
        << "TLS failure memory: " << loaded << " server(s) from " << options_.tls_memory_path
        << " skip STARTTLS until their entries expire";
  }
}

SmtpDeliverer::~SmtpDeliverer() {
  save_timer_.cancel();
  if (memory_dirty_) SaveTlsMemory();
}

SmtpDelivererStats SmtpDeliverer::Stats() const {
  SmtpDelivererStats s;
  s.tls_fallbacks = tls_fallbacks_;
  s.tls_failures_remembered = tls_failures_.size();
  return s;
}

void SmtpDeliverer::SaveTlsMemory() {
  memory_dirty_ = false;
  last_save_ = clock_.Now().mono;
  std::string error;
  if (!tls_failures_.Save(options_.tls_memory_path, &error)) {
    OUTPOST_LOG(kWarning, "delivery") << "cannot save the TLS failure memory: " << error;
  }
}

void SmtpDeliverer::RememberTlsFailure(const TlsServerKey& key) {
  tls_failures_.Remember(key);
  if (options_.tls_memory_path.empty()) return;
  memory_dirty_ = true;
  if (save_pending_) return;
  const outpost::MonoTime now = clock_.Now().mono;
  if (last_save_ == outpost::MonoTime{} || now - last_save_ >= kMinSaveInterval) {
    SaveTlsMemory();
    return;
  }
  save_pending_ = true;
  save_timer_.expires_after(kMinSaveInterval - (now - last_save_));
  save_timer_.async_wait([this](const asio::error_code& ec) {
    if (ec) return;  // cancelled: the destructor saves
    save_pending_ = false;
    if (memory_dirty_) SaveTlsMemory();
  });
}

asio::awaitable<dns::MxResult> SmtpDeliverer::LookupMx(std::string domain) {
  return AwaitCallback<dns::MxResult>(io_, [this, domain](std::function<void(dns::MxResult)> cb) {
    resolver_.ResolveMx(domain, std::move(cb));
  });
}

asio::awaitable<dns::AddressResult> SmtpDeliverer::LookupAddress(std::string host) {
  return AwaitCallback<dns::AddressResult>(
      io_, [this, host](std::function<void(dns::AddressResult)> cb) {
        resolver_.ResolveAddress(host, std::move(cb));
      });
}

void SmtpDeliverer::Connect(const queue::ConnectRequest& request,
                            std::function<void(queue::ConnectOutcome)> done) {
  if (request.discard) {
    queue::ConnectOutcome ok;
    ok.status = queue::ConnectStatus::kOk;
    ok.id = next_id_++;
    ok.remote_mta = "discard";
    discards_.insert(ok.id);
    asio::post(io_,
               [done = std::move(done), ok = std::move(ok)]() mutable { done(std::move(ok)); });
    return;
  }
  asio::co_spawn(io_, ConnectTask(request, std::move(done)), asio::detached);
}

// The MX targets of `request`: its route, or the domain's MX hosts. False when the outcome is
// final (DNS said the domain cannot receive mail, or a temporary DNS failure): `outcome` says why.
asio::awaitable<bool> SmtpDeliverer::FindTargets(const queue::ConnectRequest& request,
                                                 std::vector<Target>& targets,
                                                 queue::ConnectOutcome& outcome) {
  if (request.route) {
    targets.push_back({StripBrackets(request.route->host), request.route->port});
    co_return true;
  }
  if (!request.smtp_hosts.empty()) co_return co_await HostTargets(request, targets, outcome);
  dns::MxResult mx = co_await LookupMx(request.domain);
  if (mx.status == dns::Status::kNxDomain || mx.status == dns::Status::kNullMx) {
    outcome.status = queue::ConnectStatus::kPermFail;
    outcome.error = request.domain + ": " + dns::StatusName(mx.status) +
                    (mx.error.empty() ? "" : " (" + mx.error + ")");
    co_return false;
  }
  if (mx.status != dns::Status::kOk) {
    outcome.error = "MX lookup for " + request.domain + " failed: " + mx.error;
    co_return false;
  }
  if (mx.implicit && request.bounce_upon_no_mx) {
    outcome.status = queue::ConnectStatus::kPermFail;
    outcome.error = request.domain + ": no MX record (bounce-upon-no-mx)";
    co_return false;
  }
  for (const dns::MxHost& h : mx.hosts) targets.push_back({h.host, request.port});
  co_return true;
}

// smtp-hosts (or route DOMAIN): the hosts in order, a lookup-mx:DOMAIN entry giving that
// domain's MX hosts. A DNS failure there is temporary: the recipients' own domain is not at fault.
asio::awaitable<bool> SmtpDeliverer::HostTargets(const queue::ConnectRequest& request,
                                                 std::vector<Target>& targets,
                                                 queue::ConnectOutcome& outcome) {
  for (const config::SmtpHost& h : request.smtp_hosts) {
    const std::uint16_t port = h.port.value_or(request.port);
    if (!h.lookup_mx) {
      targets.push_back({h.host, port});
      continue;
    }
    dns::MxResult mx = co_await LookupMx(h.host);
    if (mx.status != dns::Status::kOk) {
      outcome.error = "MX lookup for " + h.host +
                      " failed: " + (mx.error.empty() ? dns::StatusName(mx.status) : mx.error);
      continue;
    }
    for (const dns::MxHost& m : mx.hosts) targets.push_back({m.host, port});
  }
  co_return !targets.empty();
}

// One connection attempt to `address` of `target` (with the opportunistic TLS fallback). True when
// the outcome is final: connected (outcome kOk, the connection kept) or a 5xx greeting that
// bounces (bounce-upon-5xx-greeting); else `outcome` holds this failure and the caller goes on.
asio::awaitable<bool> SmtpDeliverer::TryAddress(const queue::ConnectRequest& request,
                                                const delivery::ClientOptions& options,
                                                const Target& target, const std::string& address,
                                                queue::ConnectOutcome& outcome) {
  auto connection = std::make_unique<delivery::SmtpClientConnection>(io_.get_executor());
  delivery::ClientOptions attempt = options;
  // require-starttls never reads nor writes the memory: its failures stand.
  const bool opportunistic = options.use_starttls && !options.require_starttls;
  const TlsServerKey server{HostKey(target.host), address, target.port};
  if (opportunistic && tls_failures_.Failed(server)) {
    attempt.use_starttls = false;
    ++tls_fallbacks_;
    OUTPOST_LOG(kWarning, "delivery")
        << request.queue << ": sending in plain text to " << server.Text()
        << " (its TLS handshake failed within the last hour; STARTTLS skipped)";
  }
  delivery::ConnectResult result = co_await connection->Connect(address, target.port, attempt);
  if (!result.ok() && result.tls_handshake_failed && opportunistic) {
    // Opportunistic TLS: the message goes in plain text rather than waiting for a retry.
    RememberTlsFailure(server);
    ++tls_fallbacks_;
    OUTPOST_LOG(kWarning, "delivery")
        << request.queue << ": " << result.error << " at " << server.Text()
        << "; retrying in plain text (STARTTLS skipped there for 1h)";
    attempt.use_starttls = false;
    connection = std::make_unique<delivery::SmtpClientConnection>(io_.get_executor());
    result = co_await connection->Connect(address, target.port, attempt);
  }
  outcome.remote_mta = target.host + " (" + address + ")";
  outcome.remote_address = address;
  if (!result.ok()) {
    outcome.error = result.error;
    outcome.reply = result.reply;
    const bool bounce = result.failure == delivery::ConnectFailure::kGreeting &&
                        result.reply.Permanent() && request.bounce_upon_5xx_greeting;
    if (bounce) outcome.status = queue::ConnectStatus::kPermFail;
    co_return bounce;
  }
  outcome.status = queue::ConnectStatus::kOk;
  outcome.id = next_id_++;
  outcome.reply = delivery::Reply{};
  outcome.error.clear();
  outcome.local_address = connection->local_address();
  outcome.esmtp_available = connection->esmtp_available();
  connections_.emplace(outcome.id, std::move(connection));
  co_return true;
}

asio::awaitable<void> SmtpDeliverer::ConnectTask(queue::ConnectRequest request,
                                                 std::function<void(queue::ConnectOutcome)> done) {
  std::vector<Target> targets;
  queue::ConnectOutcome outcome;
  outcome.status = queue::ConnectStatus::kTempFail;
  if (!co_await FindTargets(request, targets, outcome)) {
    done(std::move(outcome));
    co_return;
  }
  delivery::ClientOptions options = options_.base;
  options.source_address = request.source_address;
  options.ehlo_name = request.ehlo_name;
  options.use_starttls = request.use_starttls;
  options.require_starttls = request.require_starttls;
  options.ignore_8bitmime = request.ignore_8bitmime;
  options.timeouts = request.timeouts;
  const auto& avoid = request.avoid_addresses;
  int attempts = 0;  // mx-connection-attempts bounds it
  // Pass 0: every address but the avoided ones, in MX order; pass 1: the avoided ones.
  for (int pass = 0; pass < (avoid.empty() ? 1 : 2); ++pass) {
    for (const Target& target : targets) {
      std::vector<std::string> addresses;
      if (IsAddress(target.host)) {
        addresses.push_back(target.host);
      } else {
        dns::AddressResult a = co_await LookupAddress(target.host);
        if (a.status != dns::Status::kOk) {
          outcome.error = "address lookup for " + target.host +
                          " failed: " + (a.error.empty() ? dns::StatusName(a.status) : a.error);
          continue;
        }
        addresses = a.addresses;
      }
      for (const std::string& address : addresses) {
        const bool avoided = std::find(avoid.begin(), avoid.end(), address) != avoid.end();
        if (avoided != (pass == 1)) continue;
        if (co_await TryAddress(request, options, target, address, outcome)) {
          done(std::move(outcome));
          co_return;
        }
        if (++attempts == request.max_addresses) {
          done(std::move(outcome));
          co_return;
        }
      }
    }
  }
  if (outcome.error.empty()) outcome.error = "no mail exchanger for " + request.domain;
  done(std::move(outcome));
}

void SmtpDeliverer::Send(queue::ConnectionId connection, queue::BatchRequest batch,
                         std::function<void(queue::BatchOutcome)> done) {
  if (discards_.count(connection) != 0) {
    // type discard: every recipient "accepted", by us, and the message dropped.
    const delivery::Reply discarded{250, "2.0.0", "discarded (type discard)"};
    queue::BatchOutcome outcome;
    outcome.result.mail_reply = discarded;
    outcome.result.rcpt_replies.assign(batch.recipients.size(), discarded);
    outcome.result.data_reply = discarded;
    asio::post(io_, [done = std::move(done), outcome = std::move(outcome)]() mutable {
      done(std::move(outcome));
    });
    return;
  }
  auto it = connections_.find(connection);
  // The scheduler sends only on connections this deliverer reported open and has not closed.
  if (!OUTPOST_INVARIANT(it != connections_.end(), "a transaction's connection is open")) {
    queue::BatchOutcome lost;
    lost.result.connection_lost = true;
    lost.connection_usable = false;
    done(std::move(lost));
    return;
  }
  asio::co_spawn(io_, SendTask(it->second.get(), std::move(batch), std::move(done)),
                 asio::detached);
}

asio::awaitable<void> SmtpDeliverer::SendTask(delivery::SmtpClientConnection* connection,
                                              queue::BatchRequest batch,
                                              std::function<void(queue::BatchOutcome)> done) {
  delivery::Transaction tx;
  tx.mail_from = batch.mail_from;
  tx.recipients = batch.recipients;
  tx.data = batch.data.get();  // `batch` (and so the data) lives in this frame until the end
  tx.body_8bit = batch.body_8bit;
  tx.env_id = batch.env_id;
  queue::BatchOutcome outcome;
  outcome.result = co_await connection->Send(std::move(tx));
  outcome.connection_usable = connection->usable() && !outcome.result.connection_lost;
  done(std::move(outcome));
}

namespace {
asio::awaitable<void> QuitTask(std::unique_ptr<delivery::SmtpClientConnection> connection,
                               std::function<void()> closed) {
  co_await connection->Quit();  // QUIT only when usable; always the graceful close
  connection->Close();
  connection.reset();
  closed();
}
}  // namespace

void SmtpDeliverer::ResolveMxHosts(const std::string& domain,
                                   std::function<void(queue::MxHostsAnswer)> done) {
  resolver_.ResolveMx(domain, [this, domain, done = std::move(done)](dns::MxResult mx) {
    queue::MxHostsAnswer answer;
    if (mx.status == dns::Status::kOk) {
      answer.status = queue::ConnectStatus::kOk;
      for (const dns::MxHost& h : mx.hosts) answer.hosts.push_back(h.host);
      std::sort(answer.hosts.begin(), answer.hosts.end());
      answer.hosts.erase(std::unique(answer.hosts.begin(), answer.hosts.end()), answer.hosts.end());
    } else {
      answer.status = mx.status == dns::Status::kTempFail ? queue::ConnectStatus::kTempFail
                                                          : queue::ConnectStatus::kPermFail;
      answer.error = domain + ": " + dns::StatusName(mx.status) +
                     (mx.error.empty() ? "" : " (" + mx.error + ")");
    }
    // Posted: a cache hit answers inside ResolveMx(), and callers expect no re-entry.
    asio::post(io_, [done, answer = std::move(answer)]() mutable { done(std::move(answer)); });
  });
}

void SmtpDeliverer::Close(queue::ConnectionId connection, std::function<void()> closed) {
  discards_.erase(connection);
  auto it = connections_.find(connection);
  if (it == connections_.end()) {
    asio::post(io_, std::move(closed));
    return;
  }
  std::unique_ptr<delivery::SmtpClientConnection> owned = std::move(it->second);
  connections_.erase(it);
  asio::co_spawn(io_, QuitTask(std::move(owned), std::move(closed)), asio::detached);
}

}  // namespace outpost::delivery
