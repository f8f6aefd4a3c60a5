#include "mta/queue/queue_name.hpp"

#include <cctype>

#include "common/strings.hpp"

namespace outpost::queue {

std::string RecipientDomain(std::string_view address) {
  std::size_t at = address.rfind('@');
  if (at == std::string_view::npos) return {};
  std::string domain(address.substr(at + 1));
  while (!domain.empty() && (domain.back() == '>' || domain.back() == '.')) domain.pop_back();
  AsciiLowercaseInPlace(domain);
  return domain;
}

std::string FormatQueueName(const QueueKey& key) { return key.domain + "/" + key.vmta; }

std::optional<QueueKey> ParseQueueName(std::string_view name) {
  std::size_t slash = name.rfind('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == name.size()) {
    return std::nullopt;
  }
  return QueueKey{std::string(name.substr(0, slash)), std::string(name.substr(slash + 1))};
}

VmtaChoice VmtaSelector::Select(const std::string& requested) {
  if (requested.empty()) return {std::string(kDefaultVmta), ""};
  if (config_->FindVirtualMta(requested) != nullptr) return {requested, ""};
  const config::VirtualMtaPool* pool = config_->FindVirtualMtaPool(requested);
  if (pool == nullptr || pool->members.empty()) return {std::string(kDefaultVmta), ""};
  std::uint64_t& position = next_[pool->name];
  const std::string& member = pool->members[position % pool->members.size()];
  ++position;
  return {member, pool->name};
}

}  // namespace outpost::queue
