#include "mta/queue/reroutes.hpp"

#include <algorithm>

namespace outpost::queue {
namespace {

bool InDomain(const std::string& domain, const std::string& parent) {
  if (domain.size() < parent.size() ||
      domain.compare(domain.size() - parent.size(), parent.size(), parent) != 0) {
    return false;
  }
  return domain.size() == parent.size() || domain[domain.size() - parent.size() - 1] == '.';
}

std::vector<std::string> SplitDomains(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    if (comma > start) out.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

}  // namespace

Reroutes::Reroutes() : map_(ProviderMap::Defaults()), resolver_(map_) {}

std::optional<std::string> Reroutes::Set(const std::string& name, const std::string& target,
                                         const std::string& pool) {
  Reroute r;
  r.pool = pool;
  if (target.find('.') != std::string::npos) {
    r.domains = SplitDomains(target);
  } else {
    r.provider = map_.IndexOfProvider(target);
    if (r.provider == 0) {
      return "'" + target +
             "' is neither a provider name (gmail, microsoft, yahoo, ...) nor a "
             "domain list";
    }
  }
  by_name_[name] = std::move(r);
  return std::nullopt;
}

bool Reroutes::Clear(const std::string& name) { return by_name_.erase(name) != 0; }

const std::string* Reroutes::PoolFor(const std::string& domain) {
  if (by_name_.empty()) return nullptr;
  const std::uint16_t provider = resolver_.Resolve(domain);
  for (const auto& [name, r] : by_name_) {
    if (r.provider != 0 ? r.provider == provider
                        : std::any_of(r.domains.begin(), r.domains.end(),
                                      [&](const std::string& d) { return InDomain(domain, d); })) {
      return &r.pool;
    }
  }
  return nullptr;
}

}  // namespace outpost::queue
