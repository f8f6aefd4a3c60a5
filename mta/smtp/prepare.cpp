#include "mta/smtp/prepare.hpp"

#include <optional>

#include "common/strings.hpp"
#include "mta/smtp/command_parser.hpp"
#include "mta/smtp/message_headers.hpp"

namespace outpost::smtp {
namespace {

HeaderOptions HeaderOptionsOf(const config::EffectiveSourcePolicy& policy) {
  HeaderOptions o;
  o.add_received = policy.add_received_header;
  o.remove_received = policy.remove_received_headers;
  o.add_message_id = policy.add_message_id_header;
  o.add_date = policy.add_date_header;
  o.remove = policy.remove_headers;
  o.job_header = policy.jobid_header;
  o.retain_x_job = policy.retain_x_job;
  o.retain_x_virtual_mta = policy.retain_x_virtual_mta;
  o.process_x_envid = policy.process_x_envid;
  return o;
}

bool KnownVmta(const config::Config& config, const std::string& name) {
  return config.FindVirtualMta(name) != nullptr || config.FindVirtualMtaPool(name) != nullptr;
}

}  // namespace

Prepared PrepareMessage(Transaction t, const config::Config& config,
                        const config::EffectiveSourcePolicy& policy, const RouteList* route_list,
                        std::string queue_id, std::int64_t now) {
  Prepared out;
  std::optional<std::string> routed;
  if (route_list != nullptr) {
    // On the message as it arrived: header rules see the fields remove-header takes away.
    routed = route_list->Route(t.mail_from, t.recipients.front(), [&t](const std::string& name) {
      std::string value = HeaderValue(t.data, name);
      return value.empty() ? std::nullopt : std::optional<std::string>(value);
    });
  }
  spool::Envelope& env = out.message.envelope;
  env.id = std::move(queue_id);
  env.time_queued = now;
  env.mail_from = std::move(t.mail_from);
  env.recipients = std::move(t.recipients);
  env.env_id = std::move(t.env_id);
  env.source_ip = std::move(t.client_ip);
  env.source_helo = t.helo;
  env.auth_user = std::move(t.auth_user);
  env.body_8bit = t.body_8bit;
  env.verp_delimiters = t.verp_delimiters;

  TraceInfo trace;
  trace.helo = std::move(t.helo);
  if (!policy.hide_message_source) trace.client_literal = std::move(t.client_literal);
  trace.host_name = config.host_name;
  trace.protocol = std::move(t.protocol);
  trace.queue_id = env.id;
  if (env.recipients.size() == 1) trace.recipient = env.recipients.front();
  trace.time = env.time_queued;
  HeaderResult headers = ProcessHeaders(trace, t.data, HeaderOptionsOf(policy));
  if (env.env_id.empty() && headers.x_envid) env.env_id = headers.x_envid->substr(0, kMaxEnvId);

  env.vmta = routed.value_or(policy.default_virtual_mta);
  std::optional<std::string> asked;
  if (!t.vmta.empty()) {
    asked = t.vmta;
  } else if (policy.process_x_virtual_mta && headers.x_virtual_mta &&
             !headers.x_virtual_mta->empty()) {
    asked = headers.x_virtual_mta;
  }
  if (asked) {
    if (!KnownVmta(config, *asked)) {
      out.refusal = "unknown virtual MTA " + *asked;
      return out;
    }
    env.vmta = *asked;
  }
  if (!t.job_id.empty()) {
    env.job_id = std::move(t.job_id);
  } else if (policy.process_x_job && headers.job) {
    env.job_id = *headers.job;
  }
  out.message.data = std::move(t.data);
  return out;
}

}  // namespace outpost::smtp
