#include "tools/isp-sim/sim_stats.hpp"

namespace outpost::isp_sim {
namespace {

void AddRecipientCounters(const RecipientCounters& c, nlohmann::json* j) {
  (*j)["recipients_accepted"] = c.recipients_accepted;
  (*j)["recipients_deferred"] = c.recipients_deferred;
  (*j)["recipients_bounced"] = c.recipients_bounced;
  (*j)["messages"] = c.messages;
  (*j)["dropped_mid_data"] = c.dropped_mid_data;
}

// The scripted-fault counters of one client, added into `j` (and into `sum`).
void AddFaultCounters(const ClientCounters& c, nlohmann::json* j, ClientCounters* sum) {
  (*j)["reset_mid_data"] = c.reset_mid_data;
  (*j)["silent_after_data"] = c.silent_after_data;
  (*j)["garbage_replies"] = c.garbage_replies;
  (*j)["tls_failures"] = c.tls_failures;
  (*j)["silent_greetings"] = c.silent_greetings;
  if (sum == nullptr) return;
  sum->reset_mid_data += c.reset_mid_data;
  sum->silent_after_data += c.silent_after_data;
  sum->garbage_replies += c.garbage_replies;
  sum->tls_failures += c.tls_failures;
  sum->silent_greetings += c.silent_greetings;
}

}  // namespace

void SimStats::ConnectionOpened(const std::string& ip, std::chrono::steady_clock::time_point now) {
  ClientCounters& c = clients_[ip];
  ++c.connections_total;
  ++c.connections_current;
  if (c.connections_current > c.connections_peak) c.connections_peak = c.connections_current;
  while (!c.recent_starts.empty() && now - c.recent_starts.front() >= std::chrono::seconds(1)) {
    c.recent_starts.pop_front();
  }
  c.recent_starts.push_back(now);
  if (c.recent_starts.size() > c.connection_rate_peak) {
    c.connection_rate_peak = c.recent_starts.size();
  }
}

void SimStats::ConnectionClosed(const std::string& ip) {
  ClientCounters& c = clients_[ip];
  if (c.connections_current > 0) --c.connections_current;
}

void SimStats::RecordMessageId(std::string id) {
  if (id.empty()) {
    ++messages_without_id_;
  } else if (message_ids_.size() < max_message_ids_) {
    message_ids_.push_back(std::move(id));
  } else {
    ++message_ids_not_recorded_;
  }
}

nlohmann::json SimStats::ToJson() const {
  nlohmann::json out;
  RecipientCounters total;
  ClientCounters faults;
  std::uint64_t bytes = 0, connections = 0, refused = 0;
  nlohmann::json clients = nlohmann::json::object();
  for (const auto& [ip, c] : clients_) {
    nlohmann::json j;
    AddRecipientCounters(c, &j);
    j["connections_total"] = c.connections_total;
    j["connections_current"] = c.connections_current;
    j["connections_peak"] = c.connections_peak;
    j["connection_rate_peak"] = c.connection_rate_peak;
    j["connections_refused"] = c.connections_refused;
    j["bytes"] = c.bytes;
    AddFaultCounters(c, &j, &faults);
    clients[ip] = std::move(j);
    total.recipients_accepted += c.recipients_accepted;
    total.recipients_deferred += c.recipients_deferred;
    total.recipients_bounced += c.recipients_bounced;
    total.messages += c.messages;
    total.dropped_mid_data += c.dropped_mid_data;
    bytes += c.bytes;
    connections += c.connections_total;
    refused += c.connections_refused;
  }
  nlohmann::json domains = nlohmann::json::object();
  for (const auto& [name, d] : domains_) {
    nlohmann::json j;
    AddRecipientCounters(d, &j);
    domains[name] = std::move(j);
  }
  nlohmann::json totals;
  AddRecipientCounters(total, &totals);
  totals["bytes"] = bytes;
  totals["connections_total"] = connections;
  totals["connections_refused"] = refused;
  AddFaultCounters(faults, &totals, nullptr);
  out["totals"] = std::move(totals);
  out["clients"] = std::move(clients);
  out["domains"] = std::move(domains);
  out["message_ids"] = message_ids_;
  out["message_ids_not_recorded"] = message_ids_not_recorded_;
  out["messages_without_id"] = messages_without_id_;
  return out;
}

}  // namespace outpost::isp_sim
