// The effective delivery policy of a destination: every <domain> directive resolved to a value.
//
// config::Config::FindDomainPolicy() returns one section; PowerMTA semantics are field by field,
// and a <domain> section may be nested in a <virtual-mta> or a <virtual-mta-pool> (it then applies
// only to mail through that virtual MTA, or through the pool's members). For mail to D through
// virtual MTA V, each field takes its value from the first section that sets it, in this order:
//   1-3. <domain D> in <virtual-mta V>, in a pool V is a member of, then the global <domain D>;
//   4-6. the same three for a <domain $MACRO> whose macro lists D;
//   then the same three for each wildcard section (<domain *.S>, <domain [*.]S>) matching D, the
//   longest suffix S first;
//   last, the same three for <domain *>;
// (a section naming several domains, <domain a.com b.com>, counts as its closest name);
// (a virtual MTA made by auto-cold-virtual-mta counts its warm one's sections as its own)
// then the built-in defaults (docs/config.md, "Which <domain> applies"). Pools are taken in file
// order. A backoff-* limit that no section sets falls back to the (merged) normal limit.
//
// Thread-safety: pure functions over immutable values.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mta/config/config.hpp"
#include "mta/delivery/smtp_client.hpp"

namespace outpost::queue {

struct EffectiveDomainPolicy {
  int max_smtp_out = 20;
  config::Rate max_connect_rate;   // unlimited
  config::Rate max_msg_rate;       // unlimited; counts attempted recipients
  int max_msg_per_connection = 0;  // 0: no limit
  int max_rcpt_per_transaction = 1000;
  std::vector<config::Seconds> retry_after{config::Seconds(600)};
  config::Seconds bounce_after{4 * 86400 + 12 * 3600};
  std::string smtp_pattern_list;  // "" = none
  int backoff_max_smtp_out = 20;
  config::Rate backoff_max_connect_rate;
  config::Rate backoff_max_msg_rate;
  int backoff_max_msg_per_connection = 0;
  std::vector<config::Seconds> backoff_retry_after{config::Seconds(3600)};
  std::optional<config::Seconds> backoff_to_normal_after;  // nullopt: never
  bool backoff_to_normal_after_delivery = false;
  int source_ip_max_smtp_out = 0;  // 0: no per-address limit
  config::Rate source_ip_max_msg_rate;
  std::string mx_rollup;  // "" = none
  std::optional<config::ListenAddress> route;
  std::uint16_t default_smtp_port = 25;
  bool use_starttls = true;
  bool require_starttls = false;
  // connect-timeout, smtp-greeting-timeout, smtp-command-timeout, data-send-timeout,
  // smtp-data-termination-timeout (defaults in ClientTimeouts).
  delivery::ClientTimeouts client_timeouts;
  int queue_priority = 50;
  // What some replies and failures mean (PowerMTA's defaults).
  int max_errors_per_connection = 0;  // 0: unlimited
  bool bounce_upon_no_mx = false;
  bool bounce_upon_5xx_greeting = true;
  bool smtp_421_means_mx_unavailable = false;
  bool smtp_553_means_invalid_mailbox = true;
  bool bounce_upon_transfer_failure = false;
  bool assume_delivery_upon_data_termination_timeout = false;
  // DSNs outpostd makes for a message whose envelope sender is in this domain are sent.
  bool deliver_local_dsn = true;
  // How to deliver.
  std::vector<config::SmtpHost> smtp_hosts;  // empty: the domain's MX hosts (or `route`)
  int mx_connection_attempts = 0;            // 0: every address
  bool ignore_8bitmime = false;
  bool discard = false;  // type discard
  // IP warm-up: recipients per UTC day a warm virtual MTA sends through its cold one (ColdSplit).
  std::uint64_t max_cold_virtual_mta_msg = 100;
  // DKIM (the signer, signing_deliverer.hpp, reads these; dkim::PolicyFrom parses the text).
  bool dkim_sign = false;
  bool dk_sign = false;                       // DomainKeys (mta/dkim/domainkeys.hpp)
  std::optional<std::string> dkim_algorithm;  // nullopt: the key's own type
  std::optional<std::string> dkim_headers_canon;
  std::optional<std::string> dkim_body_canon;
  std::optional<std::string> dkim_identity;
};

// The sections that apply to mail to `domain` (lower-cased, trailing dot ignored) through virtual
// MTA `vmta` ("" or a name with no sections: global ones only), most specific first.
std::vector<const config::DomainPolicy*> DomainSections(const config::Config& config,
                                                        const std::string& domain,
                                                        const std::string& vmta = "");

// Field-by-field merge of DomainSections() over the built-in defaults.
EffectiveDomainPolicy MergeDomainPolicy(const config::Config& config, const std::string& domain,
                                        const std::string& vmta = "");

}  // namespace outpost::queue
