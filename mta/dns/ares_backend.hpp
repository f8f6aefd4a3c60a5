// The production LookupBackend: c-ares queries driven by an Asio io_context.
//
// c-ares owns its sockets; it tells us which to watch through ARES_OPT_SOCK_STATE_CB. Each socket
// is wrapped (not owned) in an asio::posix::stream_descriptor whose async_wait for read/write
// readiness calls ares_process_fd; one steady_timer follows ares_timeout() so retries and
// timeouts fire without any blocking call or extra thread.
//
// Answers: MX through ares_parse_mx_reply, A/AAAA through ares_parse_a(aaaa)_reply (TTLs from
// their addrttls). c-ares does not expose an MX record's TTL nor the SOA of a negative answer,
// so ares_query's raw answer is also walked by ReadMessageTtls (dns_message.hpp).
// Status mapping: ARES_ENOTFOUND → kNxDomain; ARES_ENODATA for MX → the implicit MX, for an
// address → kNxDomain; an MX set made only of "." (or "") → kNullMx (a "." next to real MX hosts
// is dropped); ARES_EBADNAME → kNxDomain; everything else (SERVFAIL, REFUSED, timeouts,
// connection refused, malformed answers) → kTempFail with ares_strerror's text.
//
// Limits: at most 64 addresses per family are read. Completions are posted to the io_context;
// destroying the backend calls ares_destroy and drops pending completions.
#pragma once

#include <ares.h>

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "mta/dns/caching_resolver.hpp"

namespace outpost::dns {

// "127.0.0.1:5353", "127.0.0.1", "[::1]:5353", "::1" → the form ares_set_servers_ports_csv takes
// ("127.0.0.1:5353", "[::1]:53"). False + error when the text is not one address and port.
bool ServerToAresCsv(const std::string& server, std::string* csv, std::string* error);

// Not thread-safe: use from the io_context's thread.
class AresBackend final : public LookupBackend {
 public:
  static std::unique_ptr<AresBackend> Create(asio::io_context& io, const ResolverOptions& options,
                                             std::string* error);
  ~AresBackend() override;
  AresBackend(const AresBackend&) = delete;
  AresBackend& operator=(const AresBackend&) = delete;

  void LookupMx(const std::string& domain, std::function<void(MxResult)> done) override;
  void LookupAddress(const std::string& host, std::function<void(AddressResult)> done) override;
  std::uint64_t QueriesSent() const override { return queries_; }

 private:
  // Called inside c-ares' callback with the raw answer (valid only during the call).
  using RawHandler = std::function<void(int status, const unsigned char* answer, int length)>;
  struct Watch;

  AresBackend(asio::io_context& io, const ResolverOptions& options);
  void Query(const std::string& name, int type, RawHandler handler);
  static void OnAnswer(void* arg, int status, int timeouts, unsigned char* answer, int length);
  static void OnSocketState(void* data, ares_socket_t fd, int readable, int writable);
  void SocketState(ares_socket_t fd, bool readable, bool writable);
  void Arm(const std::shared_ptr<Watch>& watch);
  void OnReady(const std::shared_ptr<Watch>& watch, bool read);
  void ArmTimer();
  template <typename Result>
  void Post(std::function<void(Result)> done, Result result);

  asio::io_context& io_;
  ResolverOptions options_;
  ares_channel channel_ = nullptr;
  bool library_initialized_ = false;
  std::unordered_map<ares_socket_t, std::shared_ptr<Watch>> watches_;
  asio::steady_timer timer_;
  std::uint64_t queries_ = 0;
  std::shared_ptr<bool> alive_;  // handlers hold a weak_ptr: expired = backend gone
};

}  // namespace outpost::dns
