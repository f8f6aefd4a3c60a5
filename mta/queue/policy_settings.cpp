#include "mta/queue/policy_settings.hpp"

#include <chrono>

namespace outpost::queue {
namespace {

std::string YesNo(bool b) { return b ? "yes" : "no"; }

std::string Seconds(std::chrono::milliseconds ms) {
  return FormatDuration(std::chrono::duration_cast<config::Seconds>(ms));
}

std::string DurationList(const std::vector<config::Seconds>& list) {
  std::string out;
  for (const config::Seconds& s : list) out += (out.empty() ? "" : ",") + FormatDuration(s);
  return out;
}

std::string Hosts(const std::vector<config::SmtpHost>& hosts) {
  if (hosts.empty()) return "none (the domain's MX hosts)";
  std::string out;
  for (const config::SmtpHost& h : hosts) {
    if (!out.empty()) out += ",";
    out += h.lookup_mx ? "lookup-mx:" + h.host : h.host;
    if (h.port) out += ":" + std::to_string(*h.port);
  }
  return out;
}

std::string OrNone(const std::string& s) { return s.empty() ? "none" : s; }

// An optional text setting, or what its absence means.
std::string Or(const std::optional<std::string>& s, const char* otherwise) {
  return s ? *s : otherwise;
}

}  // namespace

std::string FormatDuration(config::Seconds s) {
  std::int64_t v = s.count();
  std::string out;
  if (v >= 86400) out += std::to_string(v / 86400) + "d", v %= 86400;
  if (v >= 3600) out += std::to_string(v / 3600) + "h", v %= 3600;
  if (v >= 60) out += std::to_string(v / 60) + "m", v %= 60;
  if (v > 0 || out.empty()) out += std::to_string(v) + "s";
  return out;
}

std::string FormatRate(const config::Rate& rate) {
  if (rate.unlimited()) return "unlimited";
  const std::string n = std::to_string(rate.count) + "/";
  switch (rate.per.count()) {
    case 1:
      return n + "s";
    case 60:
      return n + "m";
    case 3600:
      return n + "h";
    case 86400:
      return n + "d";
    default:
      return n + FormatDuration(rate.per);
  }
}

std::vector<Setting> PolicySettings(const EffectiveDomainPolicy& p) {
  const delivery::ClientTimeouts& t = p.client_timeouts;
  return {
      {"type", p.discard ? "discard" : "smtp"},
      {"max-smtp-out", std::to_string(p.max_smtp_out)},
      {"max-connect-rate", FormatRate(p.max_connect_rate)},
      {"max-msg-rate", FormatRate(p.max_msg_rate)},
      {"max-msg-per-connection", std::to_string(p.max_msg_per_connection)},
      {"max-rcpt-per-transaction", std::to_string(p.max_rcpt_per_transaction)},
      {"max-errors-per-connection", std::to_string(p.max_errors_per_connection)},
      {"source-ip-max-smtp-out", std::to_string(p.source_ip_max_smtp_out)},
      {"source-ip-max-msg-rate", FormatRate(p.source_ip_max_msg_rate)},
      {"queue-priority", std::to_string(p.queue_priority)},
      {"retry-after", DurationList(p.retry_after)},
      {"bounce-after", FormatDuration(p.bounce_after)},
      {"smtp-pattern-list", OrNone(p.smtp_pattern_list)},
      {"backoff-max-smtp-out", std::to_string(p.backoff_max_smtp_out)},
      {"backoff-max-connect-rate", FormatRate(p.backoff_max_connect_rate)},
      {"backoff-max-msg-rate", FormatRate(p.backoff_max_msg_rate)},
      {"backoff-max-msg-per-connection", std::to_string(p.backoff_max_msg_per_connection)},
      {"backoff-retry-after", DurationList(p.backoff_retry_after)},
      {"backoff-to-normal-after",
       p.backoff_to_normal_after ? FormatDuration(*p.backoff_to_normal_after) : "never"},
      {"backoff-to-normal-after-delivery", YesNo(p.backoff_to_normal_after_delivery)},
      {"mx-rollup", OrNone(p.mx_rollup)},
      {"route", p.route ? p.route->host + ":" + std::to_string(p.route->port) : "none"},
      {"smtp-hosts", Hosts(p.smtp_hosts)},
      {"mx-connection-attempts", std::to_string(p.mx_connection_attempts)},
      {"default-smtp-port", std::to_string(p.default_smtp_port)},
      {"use-starttls", YesNo(p.use_starttls)},
      {"require-starttls", YesNo(p.require_starttls)},
      {"reuse-ssl-session", "no"},  // the only value Outpost accepts
      {"ignore-8bitmime", YesNo(p.ignore_8bitmime)},
      {"max-cold-virtual-mta-msg", std::to_string(p.max_cold_virtual_mta_msg) + "/day"},
      {"connect-timeout", Seconds(t.connect)},
      {"smtp-greeting-timeout", Seconds(t.greeting)},
      {"smtp-command-timeout", Seconds(t.command)},
      {"data-send-timeout", Seconds(t.data_send)},
      {"smtp-data-termination-timeout", Seconds(t.data_termination)},
      {"bounce-upon-no-mx", YesNo(p.bounce_upon_no_mx)},
      {"deliver-local-dsn", YesNo(p.deliver_local_dsn)},
      {"bounce-upon-5xx-greeting", YesNo(p.bounce_upon_5xx_greeting)},
      {"bounce-upon-transfer-failure", YesNo(p.bounce_upon_transfer_failure)},
      {"smtp-421-means-mx-unavailable", YesNo(p.smtp_421_means_mx_unavailable)},
      {"smtp-553-means-invalid-mailbox", YesNo(p.smtp_553_means_invalid_mailbox)},
      {"assume-delivery-upon-data-termination-timeout",
       YesNo(p.assume_delivery_upon_data_termination_timeout)},
      {"dkim-sign", YesNo(p.dkim_sign)},
      {"dk-sign", YesNo(p.dk_sign)},
      {"dkim-algorithm", Or(p.dkim_algorithm, "the key's type")},
      {"dkim-headers-canon", Or(p.dkim_headers_canon, "relaxed")},
      {"dkim-body-canon", Or(p.dkim_body_canon, "relaxed")},
      {"dkim-identity", Or(p.dkim_identity, "none")},
  };
}

}  // namespace outpost::queue
