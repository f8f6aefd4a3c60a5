// The production Deliverer: DNS + the SMTP client.
//
// Connect(): with a `route`, connect there (a host name is resolved to addresses; DNS is skipped
// for an address). Otherwise ask the resolver for the domain's MX hosts (preference order), then
// each host's addresses, and try them in order at `default-smtp-port` until one connection works
// (binding the vmta's source address, saying its EHLO name). NXDOMAIN or a null MX is kPermFail
// (the queue bounces with bad-domain); a DNS temporary failure or every address failing is
// kTempFail with the last error (the queue writes a tq record and waits a retry interval).
// ResolveMxHosts() asks the same resolver (and its cache) for mx-rollup's host sets.
// Send() runs one transaction (SmtpClientConnection::Send); Close() says QUIT in the background
// (when the connection is still usable, e.g. not after a 421), closes gracefully (half-close, read
// to the receiver's EOF, bounded) and only then reports `closed`, so the scheduler's max-smtp-out
// count never runs ahead of what the receiver sees.
//
// Timeouts come from each request (the domain's connect-timeout ... smtp-data-termination-timeout).
// Opportunistic TLS fallback: when the TLS handshake fails at an address and the request does not
// require STARTTLS, the same address is tried again at once without STARTTLS (that connection is
// the result), and the address goes into a TlsFailureCache (1 h, at most 10,000 addresses) so the
// next connections there skip STARTTLS. With require-starttls the failure stands (the queue
// defers with a tq record naming TLS). XXX: the cache is per process and forgets on restart.
//
// Thread-safety: not thread-safe; everything runs on the io_context's thread. The io_context must
// not run after this object is destroyed (outpostd stops it first).
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <memory>
#include <unordered_map>

#include "mta/delivery/smtp_client.hpp"
#include "mta/dns/resolver.hpp"
#include "mta/queue/deliverer.hpp"

namespace outpost::queue {

// Thread-safety: not thread-safe (see the header comment).
class SmtpDeliverer final : public Deliverer {
 public:
  // `base` supplies defaults; source address, EHLO name, STARTTLS and timeouts come from each
  // request.
  SmtpDeliverer(asio::io_context& io, dns::Resolver& resolver, delivery::ClientOptions base);
  ~SmtpDeliverer() override;

  void Connect(const ConnectRequest& request, std::function<void(ConnectOutcome)> done) override;
  void Send(ConnectionId connection, BatchRequest batch,
            std::function<void(BatchOutcome)> done) override;
  void Close(ConnectionId connection, std::function<void()> closed) override;
  void ResolveMxHosts(const std::string& domain, std::function<void(MxHostsAnswer)> done) override;

 private:
  asio::awaitable<void> ConnectTask(ConnectRequest request,
                                    std::function<void(ConnectOutcome)> done);
  asio::awaitable<void> SendTask(delivery::SmtpClientConnection* connection, BatchRequest batch,
                                 std::function<void(BatchOutcome)> done);
  asio::awaitable<dns::MxResult> LookupMx(std::string domain);
  asio::awaitable<dns::AddressResult> LookupAddress(std::string host);

  asio::io_context& io_;
  dns::Resolver& resolver_;
  delivery::ClientOptions base_;
  delivery::TlsFailureCache tls_failures_;
  ConnectionId next_id_ = 1;
  std::unordered_map<ConnectionId, std::unique_ptr<delivery::SmtpClientConnection>> connections_;
};

}  // namespace outpost::queue
