// The production Deliverer: DNS + the SMTP client.
//
// Connect(): with a `route`, connect there (a host name is resolved to addresses; DNS is skipped
// for an address); with `smtp_hosts` (smtp-hosts, route DOMAIN), those hosts in order, a
// lookup-mx entry standing for that domain's MX hosts. Otherwise ask the resolver for the domain's
// MX hosts (preference order), then each host's addresses, and try them in order at
// `default-smtp-port` until one connection works (binding the vmta's source address, saying its
// EHLO name), at most `max_addresses` of them (mx-connection-attempts). Addresses in
// `avoid_addresses` (they said 421) are tried after all others. NXDOMAIN, a null MX, no MX record
// under bounce-upon-no-mx and a 5xx greeting under bounce-upon-5xx-greeting are kPermFail (the
// queue bounces); a DNS temporary failure or every address failing is kTempFail with the last
// error (the queue writes a tq record and waits a retry interval). `discard` (type discard) opens
// nothing: Connect() succeeds at once and Send() answers every recipient 250 "discarded".
// ResolveMxHosts() asks the same resolver (and its cache) for mx-rollup's host sets.
// Send() runs one transaction (SmtpClientConnection::Send); Close() says QUIT in the background
// (when the connection is still usable, e.g. not after a 421), closes gracefully (half-close, read
// to the receiver's EOF, bounded) and only then reports `closed`, so the scheduler's max-smtp-out
// count never runs ahead of what the receiver sees.
//
// Timeouts come from each request (the domain's connect-timeout ... smtp-data-termination-timeout).
// Opportunistic TLS fallback: when the TLS handshake fails at a server and the request does not
// require STARTTLS, the same server is tried again at once without STARTTLS (that connection is
// the result), and the server (MX name, address and port: TlsServerKey) goes into a
// TlsFailureMemory (1 h, at most 10,000 servers) so the next connections there skip STARTTLS.
// Every connection made in plain text for that reason is a fallback: logged as a warning and
// counted (Stats().tls_fallbacks; outpost_tls_fallbacks_total). With require-starttls the memory
// is neither read nor written: the failure stands (the queue defers with a tq record naming TLS).
// The memory is persisted to SmtpDelivererOptions::tls_memory_path (outpostd: SPOOL/tls-failures):
// loaded by the constructor, written atomically after a new failure (at most once a second; a
// timer writes the rest) and by the destructor.
//
// Thread-safety: not thread-safe; everything runs on the io_context's thread. The io_context must
// not run after this object is destroyed (outpostd stops it first).
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/clock.hpp"
#include "mta/delivery/smtp_client.hpp"
#include "mta/delivery/tls_failure_memory.hpp"
#include "mta/dns/resolver.hpp"
#include "mta/queue/deliverer.hpp"

namespace outpost::delivery {

struct SmtpDelivererOptions {
  delivery::ClientOptions base;  // defaults; source address, EHLO name, STARTTLS and timeouts
                                 // come from each request
  std::string tls_memory_path;   // "" = the TLS failure memory is not persisted
};

struct SmtpDelivererStats {
  std::uint64_t tls_fallbacks = 0;            // connections made in plain text after a TLS failure
  std::uint64_t tls_failures_remembered = 0;  // servers in the TLS failure memory now
};

// Thread-safety: not thread-safe (see the header comment).
class SmtpDeliverer final : public queue::Deliverer {
 public:
  // `clock` must outlive this object (it times the TLS failure memory).
  SmtpDeliverer(asio::io_context& io, dns::Resolver& resolver, const outpost::Clock& clock,
                SmtpDelivererOptions options);
  ~SmtpDeliverer() override;

  void Connect(const queue::ConnectRequest& request,
               std::function<void(queue::ConnectOutcome)> done) override;
  void Send(queue::ConnectionId connection, queue::BatchRequest batch,
            std::function<void(queue::BatchOutcome)> done) override;
  void Close(queue::ConnectionId connection, std::function<void()> closed) override;
  void ResolveMxHosts(const std::string& domain,
                      std::function<void(queue::MxHostsAnswer)> done) override;

  SmtpDelivererStats Stats() const;

 private:
  struct Target {
    std::string host;
    std::uint16_t port;
  };
  asio::awaitable<void> ConnectTask(queue::ConnectRequest request,
                                    std::function<void(queue::ConnectOutcome)> done);
  asio::awaitable<bool> FindTargets(const queue::ConnectRequest& request,
                                    std::vector<Target>& targets, queue::ConnectOutcome& outcome);
  asio::awaitable<bool> HostTargets(const queue::ConnectRequest& request,
                                    std::vector<Target>& targets, queue::ConnectOutcome& outcome);
  asio::awaitable<bool> TryAddress(const queue::ConnectRequest& request,
                                   const delivery::ClientOptions& options, const Target& target,
                                   const std::string& address, queue::ConnectOutcome& outcome);
  asio::awaitable<void> SendTask(delivery::SmtpClientConnection* connection,
                                 queue::BatchRequest batch,
                                 std::function<void(queue::BatchOutcome)> done);
  asio::awaitable<dns::MxResult> LookupMx(std::string domain);
  asio::awaitable<dns::AddressResult> LookupAddress(std::string host);
  void RememberTlsFailure(const TlsServerKey& key);
  void SaveTlsMemory();

  asio::io_context& io_;
  dns::Resolver& resolver_;
  const outpost::Clock& clock_;
  SmtpDelivererOptions options_;
  TlsFailureMemory tls_failures_;
  std::uint64_t tls_fallbacks_ = 0;
  // Persisting: at most one write a second; `save_timer_` writes what came in between.
  asio::steady_timer save_timer_;
  bool save_pending_ = false;
  bool memory_dirty_ = false;
  outpost::MonoTime last_save_{};
  queue::ConnectionId next_id_ = 1;
  std::unordered_map<queue::ConnectionId, std::unique_ptr<delivery::SmtpClientConnection>>
      connections_;
  std::unordered_set<queue::ConnectionId> discards_;  // type discard "connections"
};

}  // namespace outpost::delivery
