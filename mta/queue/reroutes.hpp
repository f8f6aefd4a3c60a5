// Alert-driven reroutes (mta/mgmt/alert_actions.hpp, `action reroute TARGET POOL`): while one is
// set, new mail to a recipient domain of TARGET goes through POOL (a <virtual-mta-pool> or a
// virtual MTA) instead of the virtual MTA it asked for. TARGET is a provider name of
// common/provider_map's defaults (gmail, microsoft, yahoo, ...; the names outpostd's metrics
// use) or a comma-separated domain list; a listed domain matches itself and its subdomains.
// Only mail queued while the reroute is set is affected (QueueManager::Enqueue); mail already
// queued stays in its queues (pause those to hold it).
//
// Thread-safety: not thread-safe (the scheduler's thread).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/provider_map.hpp"

namespace outpost::queue {

class Reroutes {
 public:
  Reroutes();
  Reroutes(const Reroutes&) = delete;  // the resolver refers to map_
  Reroutes& operator=(const Reroutes&) = delete;
  // Sets (or replaces) the reroute called `name`; an error for an unknown provider name.
  std::optional<std::string> Set(const std::string& name, const std::string& target,
                                 const std::string& pool);
  bool Clear(const std::string& name);
  bool empty() const { return by_name_.empty(); }
  // The pool for mail to `domain` (lower-case), or nullptr (the oldest-named reroute wins).
  const std::string* PoolFor(const std::string& domain);

 private:
  struct Reroute {
    std::vector<std::string> domains;
    std::uint16_t provider = 0;  // 0: by domain list
    std::string pool;
  };
  ProviderMap map_;
  ProviderResolver resolver_;
  std::map<std::string, Reroute> by_name_;
};

}  // namespace outpost::queue
