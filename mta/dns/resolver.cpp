#include "mta/dns/resolver.hpp"

#include "mta/dns/ares_backend.hpp"
#include "mta/dns/caching_resolver.hpp"

namespace outpost::dns {

const char* StatusName(Status status) {
  switch (status) {
    case Status::kOk:
      return "ok";
    case Status::kNxDomain:
      return "nxdomain";
    case Status::kNullMx:
      return "null-mx";
    case Status::kTempFail:
      return "tempfail";
  }
  return "unknown";
}

std::unique_ptr<Resolver> MakeAresResolver(asio::io_context& io, const ResolverOptions& options,
                                           std::string* error) {
  std::unique_ptr<AresBackend> backend = AresBackend::Create(io, options, error);
  if (!backend) return nullptr;
  return std::make_unique<CachingResolver>(io, std::move(backend), options);
}

}  // namespace outpost::dns
