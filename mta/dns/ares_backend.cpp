#include "mta/dns/ares_backend.hpp"

#include <arpa/inet.h>
#include <poll.h>

#include <algorithm>
#include <asio/post.hpp>
#include <cstdlib>
#include <utility>
#include <vector>

#include "mta/dns/dns_message.hpp"

namespace outpost::dns {
namespace {

constexpr int kClassIn = 1;
constexpr int kTypeA = 1;
constexpr int kTypeMx = 15;
constexpr int kTypeAaaa = 28;
constexpr int kMaxAddresses = 64;

bool ParsePort(const std::string& text, int* port) {
  if (text.empty() || text.size() > 5) return false;
  if (!std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  *port = std::atoi(text.c_str());
  return *port >= 1 && *port <= 65535;
}

bool IsIpv4(const std::string& text) {
  in_addr addr{};
  return inet_pton(AF_INET, text.c_str(), &addr) == 1;
}

bool IsIpv6(const std::string& text) {
  in6_addr addr{};
  return inet_pton(AF_INET6, text.c_str(), &addr) == 1;
}

std::chrono::seconds NegativeTtl(const unsigned char* answer, int length,
                                 std::chrono::seconds fallback) {
  if (answer == nullptr || length <= 0) return fallback;
  const MessageTtls ttls = ReadMessageTtls(answer, static_cast<std::size_t>(length));
  if (!ttls.valid || !ttls.negative_ttl) return fallback;
  return std::chrono::seconds{*ttls.negative_ttl};
}

std::string TempFailText(int status) {
  return std::string("temporary DNS failure: ") + ares_strerror(status);
}

MxResult ParseMx(const std::string& domain, int status, const unsigned char* answer, int length,
                 std::chrono::seconds negative_ttl) {
  MxResult result;
  ares_mx_reply* replies = nullptr;
  if (status == ARES_SUCCESS) {
    status = ares_parse_mx_reply(answer, length, &replies);
    if (status != ARES_SUCCESS && status != ARES_ENODATA) status = ARES_EBADRESP;
  }
  switch (status) {
    case ARES_SUCCESS:
      break;
    case ARES_ENODATA:  // no MX: the domain itself is the implicit MX (RFC 5321 §5.1)
      result.status = Status::kOk;
      result.implicit = true;
      result.hosts.push_back(MxHost{0, domain});
      result.ttl = NegativeTtl(answer, length, negative_ttl);
      return result;
    case ARES_ENOTFOUND:
      result.status = Status::kNxDomain;
      result.error = "domain does not exist (NXDOMAIN)";
      result.ttl = NegativeTtl(answer, length, negative_ttl);
      return result;
    case ARES_EBADNAME:
      result.status = Status::kNxDomain;
      result.error = "invalid domain name";
      return result;
    default:
      result.status = Status::kTempFail;
      result.error = TempFailText(status);
      return result;
  }
  bool null_mx = false;
  for (const ares_mx_reply* mx = replies; mx != nullptr; mx = mx->next) {
    const std::string host = NormalizeName(mx->host == nullptr ? "" : mx->host);
    if (host.empty()) {
      null_mx = true;
      continue;
    }
    result.hosts.push_back(MxHost{mx->priority, host});
  }
  ares_free_data(replies);
  const MessageTtls ttls = ReadMessageTtls(answer, static_cast<std::size_t>(length));
  result.ttl = std::chrono::seconds{ttls.valid && ttls.answer_ttl ? *ttls.answer_ttl : 0};
  if (result.hosts.empty() && null_mx) {
    result.status = Status::kNullMx;
    result.error = "domain accepts no mail (null MX, RFC 7505)";
    return result;
  }
  result.status = Status::kOk;
  std::stable_sort(result.hosts.begin(), result.hosts.end(),
                   [](const MxHost& a, const MxHost& b) { return a.preference < b.preference; });
  return result;
}

// One family's answer inside an address lookup.
struct FamilyAnswer {
  Status status = Status::kTempFail;
  std::vector<std::string> addresses;
  std::chrono::seconds ttl{0};
  std::string error;
};

FamilyAnswer ParseAddresses(int family, int status, const unsigned char* answer, int length,
                            std::chrono::seconds negative_ttl) {
  FamilyAnswer out;
  int count = kMaxAddresses;
  std::optional<int> min_ttl;
  if (status == ARES_SUCCESS && family == AF_INET) {
    ares_addrttl ttls[kMaxAddresses];
    status = ares_parse_a_reply(answer, length, nullptr, ttls, &count);
    for (int i = 0; status == ARES_SUCCESS && i < count; ++i) {
      char text[INET_ADDRSTRLEN] = {};
      inet_ntop(AF_INET, &ttls[i].ipaddr, text, sizeof(text));
      out.addresses.emplace_back(text);
      min_ttl = std::min(min_ttl.value_or(ttls[i].ttl), std::max(ttls[i].ttl, 0));
    }
  } else if (status == ARES_SUCCESS) {
    ares_addr6ttl ttls[kMaxAddresses];
    status = ares_parse_aaaa_reply(answer, length, nullptr, ttls, &count);
    for (int i = 0; status == ARES_SUCCESS && i < count; ++i) {
      char text[INET6_ADDRSTRLEN] = {};
      inet_ntop(AF_INET6, &ttls[i].ip6addr, text, sizeof(text));
      out.addresses.emplace_back(text);
      min_ttl = std::min(min_ttl.value_or(ttls[i].ttl), std::max(ttls[i].ttl, 0));
    }
  }
  if (status == ARES_SUCCESS && out.addresses.empty()) status = ARES_ENODATA;
  switch (status) {
    case ARES_SUCCESS:
      out.status = Status::kOk;
      out.ttl = std::chrono::seconds{min_ttl.value_or(0)};
      break;
    case ARES_ENODATA:
    case ARES_ENOTFOUND:
      out.status = Status::kNxDomain;
      out.error = status == ARES_ENOTFOUND ? "host does not exist (NXDOMAIN)"
                                           : "host has no address records";
      out.ttl = NegativeTtl(answer, length, negative_ttl);
      break;
    case ARES_EBADNAME:
      out.status = Status::kNxDomain;
      out.error = "invalid host name";
      break;
    default:
      out.status = Status::kTempFail;
      out.error = TempFailText(status);
      break;
  }
  return out;
}

// IPv4 first, then IPv6. Any address makes it kOk (not cacheable if the other family failed
// temporarily); otherwise a temporary failure wins over "no such name".
AddressResult Combine(const FamilyAnswer& v4, const FamilyAnswer* v6) {
  AddressResult result;
  std::vector<const FamilyAnswer*> parts{&v4};
  if (v6 != nullptr) parts.push_back(v6);
  bool any_temp = false;
  std::optional<std::chrono::seconds> ok_ttl, negative_ttl;
  for (const FamilyAnswer* part : parts) {
    result.addresses.insert(result.addresses.end(), part->addresses.begin(), part->addresses.end());
    if (part->status == Status::kTempFail) any_temp = true;
    auto& slot = part->status == Status::kOk ? ok_ttl : negative_ttl;
    if (part->status != Status::kTempFail) slot = std::min(slot.value_or(part->ttl), part->ttl);
    if (result.error.empty() && part->status != Status::kOk) result.error = part->error;
  }
  if (!result.addresses.empty()) {
    result.status = Status::kOk;
    result.ttl = any_temp ? std::chrono::seconds{0} : ok_ttl.value_or(std::chrono::seconds{0});
    if (!any_temp) result.error.clear();
  } else if (any_temp) {
    result.status = Status::kTempFail;
    for (const FamilyAnswer* part : parts) {
      if (part->status == Status::kTempFail) result.error = part->error;
    }
  } else {
    result.status = Status::kNxDomain;
    result.ttl = negative_ttl.value_or(std::chrono::seconds{0});
  }
  return result;
}

}  // namespace

// One socket c-ares asked us to watch. The descriptor does not own the fd: c-ares closes it.
struct AresBackend::Watch {
  Watch(asio::io_context& io, ares_socket_t socket) : fd(socket), descriptor(io) {
    asio::error_code ec;  // on failure the waits report bad_descriptor; the query times out
    descriptor.assign(socket, ec);
  }
  ares_socket_t fd;
  asio::posix::stream_descriptor descriptor;
  bool want_read = false;
  bool want_write = false;
  bool reading = false;  // an async_wait(read) is pending
  bool writing = false;
  bool closed = false;  // c-ares let go of the socket; pending handlers must do nothing
};

bool ServerToAresCsv(const std::string& server, std::string* csv, std::string* error) {
  std::string host = server;
  int port = 53;
  if (!server.empty() && server.front() == '[') {
    const auto close = server.find(']');
    if (close == std::string::npos) {
      *error = "dns server \"" + server + "\": missing ']'";
      return false;
    }
    host = server.substr(1, close - 1);
    const std::string rest = server.substr(close + 1);
    if (!rest.empty() && (rest.front() != ':' || !ParsePort(rest.substr(1), &port))) {
      *error = "dns server \"" + server + "\": bad port";
      return false;
    }
    if (!IsIpv6(host)) {
      *error = "dns server \"" + server + "\": not an IPv6 address";
      return false;
    }
  } else if (std::count(server.begin(), server.end(), ':') == 1) {
    const auto colon = server.find(':');
    host = server.substr(0, colon);
    if (!ParsePort(server.substr(colon + 1), &port)) {
      *error = "dns server \"" + server + "\": bad port";
      return false;
    }
  }
  if (IsIpv4(host)) {
    *csv = host + ":" + std::to_string(port);
  } else if (IsIpv6(host)) {
    *csv = "[" + host + "]:" + std::to_string(port);
  } else {
    *error = "dns server \"" + server + "\": not an IP address (ADDR:PORT)";
    return false;
  }
  return true;
}

AresBackend::AresBackend(asio::io_context& io, const ResolverOptions& options)
    : io_(io), options_(options), timer_(io), alive_(std::make_shared<bool>(true)) {}

std::unique_ptr<AresBackend> AresBackend::Create(asio::io_context& io,
                                                 const ResolverOptions& options,
                                                 std::string* error) {
  std::string csv;
  if (!options.server.empty() && !ServerToAresCsv(options.server, &csv, error)) return nullptr;
  std::unique_ptr<AresBackend> backend(new AresBackend(io, options));
  int status = ares_library_init(ARES_LIB_INIT_ALL);
  if (status != ARES_SUCCESS) {
    *error = std::string("c-ares init: ") + ares_strerror(status);
    return nullptr;
  }
  backend->library_initialized_ = true;
  ares_options ares_opts{};
  ares_opts.sock_state_cb = &AresBackend::OnSocketState;
  ares_opts.sock_state_cb_data = backend.get();
  ares_opts.timeout = static_cast<int>(std::max<std::int64_t>(1, options.timeout.count()));
  ares_opts.tries = std::max(1, options.tries);
  ares_opts.flags = ARES_FLAG_NOSEARCH;
  const int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS;
  status = ares_init_options(&backend->channel_, &ares_opts, mask);
  if (status != ARES_SUCCESS) {
    backend->channel_ = nullptr;
    *error = std::string("c-ares channel: ") + ares_strerror(status);
    return nullptr;
  }
  if (!csv.empty()) {
    status = ares_set_servers_ports_csv(backend->channel_, csv.c_str());
    if (status != ARES_SUCCESS) {
      *error = "dns server \"" + options.server + "\": " + ares_strerror(status);
      return nullptr;
    }
  }
  return backend;
}

AresBackend::~AresBackend() {
  alive_.reset();  // handlers already queued in the io_context now do nothing
  // ares_destroy reports each socket closed through OnSocketState (watches_ must still exist)
  // and ends pending queries with ARES_EDESTRUCTION (dropped by OnAnswer).
  if (channel_ != nullptr) ares_destroy(channel_);
  for (auto& [fd, watch] : watches_) {
    watch->closed = true;
    asio::error_code ignored;
    watch->descriptor.cancel(ignored);
    watch->descriptor.release();
  }
  watches_.clear();
  timer_.cancel();
  if (library_initialized_) ares_library_cleanup();
}

void AresBackend::LookupMx(const std::string& domain, std::function<void(MxResult)> done) {
  Query(domain, kTypeMx,
        [this, domain, done = std::move(done)](int status, const unsigned char* answer,
                                               int length) mutable {
          Post(std::move(done), ParseMx(domain, status, answer, length, options_.negative_ttl));
        });
}

void AresBackend::LookupAddress(const std::string& host, std::function<void(AddressResult)> done) {
  struct Join {
    int pending = 0;
    FamilyAnswer v4, v6;
    std::function<void(AddressResult)> done;
  };
  auto join = std::make_shared<Join>();
  join->pending = options_.ipv6 ? 2 : 1;
  join->done = std::move(done);
  const bool ipv6 = options_.ipv6;
  auto finish = [this, join, ipv6]() {
    if (--join->pending > 0) return;
    Post(std::move(join->done), Combine(join->v4, ipv6 ? &join->v6 : nullptr));
  };
  Query(host, kTypeA, [this, join, finish](int status, const unsigned char* answer, int length) {
    join->v4 = ParseAddresses(AF_INET, status, answer, length, options_.negative_ttl);
    finish();
  });
  if (ipv6) {
    Query(host, kTypeAaaa,
          [this, join, finish](int status, const unsigned char* answer, int length) {
            join->v6 = ParseAddresses(AF_INET6, status, answer, length, options_.negative_ttl);
            finish();
          });
  }
}

void AresBackend::Query(const std::string& name, int type, RawHandler handler) {
  ++queries_;
  auto* pending = new RawHandler(std::move(handler));  // owned by OnAnswer
  ares_query(channel_, name.c_str(), kClassIn, type, &AresBackend::OnAnswer, pending);
  ArmTimer();
}

void AresBackend::OnAnswer(void* arg, int status, int /*timeouts*/, unsigned char* answer,
                           int length) {
  std::unique_ptr<RawHandler> handler(static_cast<RawHandler*>(arg));
  if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED) return;
  (*handler)(status, answer, length);
}

template <typename Result>
void AresBackend::Post(std::function<void(Result)> done, Result result) {
  std::weak_ptr<bool> alive = alive_;
  asio::post(io_, [alive, done = std::move(done), result = std::move(result)]() mutable {
    if (alive.expired()) return;
    done(std::move(result));
  });
}

void AresBackend::OnSocketState(void* data, ares_socket_t fd, int readable, int writable) {
  static_cast<AresBackend*>(data)->SocketState(fd, readable != 0, writable != 0);
}

void AresBackend::SocketState(ares_socket_t fd, bool readable, bool writable) {
  auto it = watches_.find(fd);
  if (!readable && !writable) {  // c-ares is about to close the socket
    if (it == watches_.end()) return;
    const std::shared_ptr<Watch> watch = it->second;
    watches_.erase(it);
    watch->closed = true;
    asio::error_code ignored;
    watch->descriptor.cancel(ignored);
    watch->descriptor.release();
    return;
  }
  if (it == watches_.end()) it = watches_.emplace(fd, std::make_shared<Watch>(io_, fd)).first;
  it->second->want_read = readable;
  it->second->want_write = writable;
  Arm(it->second);
}

void AresBackend::Arm(const std::shared_ptr<Watch>& watch) {
  std::weak_ptr<bool> alive = alive_;
  if (watch->want_read && !watch->reading) {
    watch->reading = true;
    watch->descriptor.async_wait(asio::posix::stream_descriptor::wait_read,
                                 [this, alive, watch](const asio::error_code& ec) {
                                   if (alive.expired()) return;
                                   watch->reading = false;
                                   if (watch->closed || ec) return;
                                   OnReady(watch, true);
                                 });
  }
  if (watch->want_write && !watch->writing) {
    watch->writing = true;
    watch->descriptor.async_wait(asio::posix::stream_descriptor::wait_write,
                                 [this, alive, watch](const asio::error_code& ec) {
                                   if (alive.expired()) return;
                                   watch->writing = false;
                                   if (watch->closed || ec) return;
                                   OnReady(watch, false);
                                 });
  }
}

void AresBackend::OnReady(const std::shared_ptr<Watch>& watch, bool read) {
  const ares_socket_t fd = watch->fd;
  ares_process_fd(channel_, read ? fd : ARES_SOCKET_BAD, read ? ARES_SOCKET_BAD : fd);
  if (!watch->closed && read && watch->want_read) {
    // Asio's reactor is edge-triggered: if c-ares left data unread (a partial TCP read), no new
    // edge would come, so look once more without blocking and go round again through the loop.
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 0) == 1 && (p.revents & (POLLIN | POLLERR | POLLHUP)) != 0) {
      watch->reading = true;
      std::weak_ptr<bool> alive = alive_;
      asio::post(io_, [this, alive, watch]() {
        if (alive.expired()) return;
        watch->reading = false;
        if (!watch->closed) OnReady(watch, true);
      });
    }
  }
  if (!watch->closed) Arm(watch);
  ArmTimer();
}

void AresBackend::ArmTimer() {
  timeval tv{};
  if (ares_timeout(channel_, nullptr, &tv) == nullptr) {
    timer_.cancel();
    return;
  }
  timer_.expires_after(std::chrono::seconds{tv.tv_sec} + std::chrono::microseconds{tv.tv_usec});
  std::weak_ptr<bool> alive = alive_;
  timer_.async_wait([this, alive](const asio::error_code& ec) {
    if (alive.expired() || ec) return;
    ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // runs due timeouts
    ArmTimer();
  });
}

}  // namespace outpost::dns
