#include "mta/mgmt/settings_json.hpp"

#include "mta/mgmt/status_json.hpp"
#include "mta/queue/domain_policy.hpp"
#include "mta/queue/policy_settings.hpp"
#include "mta/queue/queue_name.hpp"

namespace outpost::mgmt {

using nlohmann::json;

std::pair<int, json> RenderSettings(const config::Config& config, const std::string& queue) {
  if (queue.empty()) return {400, RenderError(400, "missing parameter: queue (DOMAIN[/VMTA])")};
  queue::QueueKey key{queue, std::string(queue::kDefaultVmta)};
  if (auto parsed = queue::ParseQueueName(queue)) key = *parsed;
  const std::string vmta = key.vmta == queue::kDefaultVmta ? "" : key.vmta;
  if (!vmta.empty() && config.FindVirtualMta(vmta) == nullptr) {
    return {404, RenderError(404, "no such virtual MTA: " + vmta)};
  }
  json sections = json::array();
  for (const config::DomainPolicy* s : queue::DomainSections(config, key.domain, vmta)) {
    sections.push_back({{"domain", s->match},
                        {"virtual_mta", s->virtual_mta},
                        {"virtual_mta_pool", s->virtual_mta_pool},
                        {"line", s->line}});
  }
  json settings = json::object();
  for (const queue::Setting& s :
       queue::PolicySettings(queue::MergeDomainPolicy(config, key.domain, vmta))) {
    settings[s.directive] = s.value;
  }
  return {200,
          {{"queue", queue::FormatQueueName(key)},
           {"domain", key.domain},
           {"vmta", key.vmta},
           {"sections", std::move(sections)},
           {"settings", std::move(settings)}}};
}

}  // namespace outpost::mgmt
