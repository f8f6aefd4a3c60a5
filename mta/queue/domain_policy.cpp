#include "mta/queue/domain_policy.hpp"

#include <algorithm>
#include <cctype>

#include "common/strings.hpp"

namespace outpost::queue {
namespace {

std::string Normalize(const std::string& domain) {
  std::string key = domain;
  AsciiLowercaseInPlace(key);
  if (!key.empty() && key.back() == '.') key.pop_back();
  return key;
}

// The first set value among the sections, most specific first.
template <typename T>
std::optional<T> First(const std::vector<const config::DomainPolicy*>& sections,
                       std::optional<T> config::DomainPolicy::*field) {
  for (const config::DomainPolicy* section : sections) {
    if ((section->*field).has_value()) return section->*field;
  }
  return std::nullopt;
}

template <typename T>
void Apply(const std::vector<const config::DomainPolicy*>& sections,
           std::optional<T> config::DomainPolicy::*field, T& out) {
  if (auto value = First(sections, field)) out = *value;
}

void ApplyTimeout(const std::vector<const config::DomainPolicy*>& sections,
                  std::optional<config::Seconds> config::DomainPolicy::*field,
                  std::chrono::milliseconds& out) {
  if (auto value = First(sections, field)) out = *value;
}

}  // namespace

std::vector<const config::DomainPolicy*> DomainSections(const config::Config& config,
                                                        const std::string& domain,
                                                        const std::string& vmta) {
  const std::string key = Normalize(domain);
  // Whose section it is, for mail through `vmta`: 0 the virtual MTA's own, 1 a pool's it is a
  // member of, 2 global; -1 another virtual MTA's or pool's.
  // An auto-cold-virtual-mta one shares its warm virtual MTA's sections.
  const config::VirtualMta* own = vmta.empty() ? nullptr : config.FindVirtualMta(vmta);
  const std::string& shares = own != nullptr ? own->auto_cold_of : vmta;
  auto layer = [&](const config::DomainPolicy& d) {
    if (!d.virtual_mta.empty()) {
      return d.virtual_mta == vmta || (!shares.empty() && d.virtual_mta == shares) ? 0 : -1;
    }
    if (d.virtual_mta_pool.empty()) return 2;
    const config::VirtualMtaPool* pool = config.FindVirtualMtaPool(d.virtual_mta_pool);
    if (pool == nullptr || vmta.empty()) return -1;
    return std::find(pool->members.begin(), pool->members.end(), vmta) != pool->members.end() ? 1
                                                                                              : -1;
  };
  // Closest name first (config::Config::DomainMatchRank), then the virtual MTA's own section.
  std::vector<std::pair<std::pair<int, int>, const config::DomainPolicy*>> ranked;
  for (const config::DomainPolicy& d : config.domains) {
    const int l = config.DomainMatchRank(d, key), o = layer(d);
    if (l >= 0 && o >= 0) ranked.emplace_back(std::make_pair(l, o), &d);
  }
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<const config::DomainPolicy*> sections;
  for (const auto& [rank, d] : ranked) sections.push_back(d);
  return sections;
}

EffectiveDomainPolicy MergeDomainPolicy(const config::Config& config, const std::string& domain,
                                        const std::string& vmta) {
  const std::vector<const config::DomainPolicy*> sections = DomainSections(config, domain, vmta);

  using P = config::DomainPolicy;
  EffectiveDomainPolicy out;
  Apply(sections, &P::max_smtp_out, out.max_smtp_out);
  Apply(sections, &P::max_connect_rate, out.max_connect_rate);
  Apply(sections, &P::max_msg_rate, out.max_msg_rate);
  Apply(sections, &P::max_msg_per_connection, out.max_msg_per_connection);
  Apply(sections, &P::max_rcpt_per_transaction, out.max_rcpt_per_transaction);
  Apply(sections, &P::retry_after, out.retry_after);
  if (out.retry_after.empty()) out.retry_after.push_back(config::Seconds(600));
  Apply(sections, &P::bounce_after, out.bounce_after);
  Apply(sections, &P::smtp_pattern_list, out.smtp_pattern_list);
  // backoff-* default to the merged normal limits.
  out.backoff_max_smtp_out = out.max_smtp_out;
  out.backoff_max_connect_rate = out.max_connect_rate;
  out.backoff_max_msg_rate = out.max_msg_rate;
  out.backoff_max_msg_per_connection = out.max_msg_per_connection;
  Apply(sections, &P::backoff_max_smtp_out, out.backoff_max_smtp_out);
  Apply(sections, &P::backoff_max_connect_rate, out.backoff_max_connect_rate);
  Apply(sections, &P::backoff_max_msg_rate, out.backoff_max_msg_rate);
  Apply(sections, &P::backoff_max_msg_per_connection, out.backoff_max_msg_per_connection);
  Apply(sections, &P::backoff_retry_after, out.backoff_retry_after);
  if (out.backoff_retry_after.empty()) out.backoff_retry_after.push_back(config::Seconds(3600));
  out.backoff_to_normal_after = First(sections, &P::backoff_to_normal_after);
  Apply(sections, &P::backoff_to_normal_after_delivery, out.backoff_to_normal_after_delivery);
  Apply(sections, &P::source_ip_max_smtp_out, out.source_ip_max_smtp_out);
  Apply(sections, &P::source_ip_max_msg_rate, out.source_ip_max_msg_rate);
  Apply(sections, &P::mx_rollup, out.mx_rollup);
  out.route = First(sections, &P::route);
  Apply(sections, &P::default_smtp_port, out.default_smtp_port);
  Apply(sections, &P::use_starttls, out.use_starttls);
  Apply(sections, &P::require_starttls, out.require_starttls);
  ApplyTimeout(sections, &P::connect_timeout, out.client_timeouts.connect);
  ApplyTimeout(sections, &P::smtp_greeting_timeout, out.client_timeouts.greeting);
  ApplyTimeout(sections, &P::smtp_command_timeout, out.client_timeouts.command);
  ApplyTimeout(sections, &P::data_send_timeout, out.client_timeouts.data_send);
  ApplyTimeout(sections, &P::smtp_data_termination_timeout, out.client_timeouts.data_termination);
  Apply(sections, &P::queue_priority, out.queue_priority);
  Apply(sections, &P::max_errors_per_connection, out.max_errors_per_connection);
  Apply(sections, &P::bounce_upon_no_mx, out.bounce_upon_no_mx);
  Apply(sections, &P::bounce_upon_5xx_greeting, out.bounce_upon_5xx_greeting);
  Apply(sections, &P::smtp_421_means_mx_unavailable, out.smtp_421_means_mx_unavailable);
  Apply(sections, &P::smtp_553_means_invalid_mailbox, out.smtp_553_means_invalid_mailbox);
  Apply(sections, &P::bounce_upon_transfer_failure, out.bounce_upon_transfer_failure);
  Apply(sections, &P::assume_delivery_upon_data_termination_timeout,
        out.assume_delivery_upon_data_termination_timeout);
  Apply(sections, &P::deliver_local_dsn, out.deliver_local_dsn);
  Apply(sections, &P::smtp_hosts, out.smtp_hosts);
  Apply(sections, &P::mx_connection_attempts, out.mx_connection_attempts);
  Apply(sections, &P::ignore_8bitmime, out.ignore_8bitmime);
  Apply(sections, &P::max_cold_virtual_mta_msg, out.max_cold_virtual_mta_msg);
  out.discard = First(sections, &P::delivery_type).value_or("smtp") == "discard";
  Apply(sections, &P::dkim_sign, out.dkim_sign);
  Apply(sections, &P::dk_sign, out.dk_sign);
  out.dkim_algorithm = First(sections, &P::dkim_algorithm);
  out.dkim_headers_canon = First(sections, &P::dkim_headers_canon);
  out.dkim_body_canon = First(sections, &P::dkim_body_canon);
  out.dkim_identity = First(sections, &P::dkim_identity);
  out.max_smtp_out = std::max(1, out.max_smtp_out);
  out.backoff_max_smtp_out = std::max(1, out.backoff_max_smtp_out);
  out.max_rcpt_per_transaction = std::max(1, out.max_rcpt_per_transaction);
  return out;
}

}  // namespace outpost::queue
