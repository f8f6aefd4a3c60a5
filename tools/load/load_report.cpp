#include "tools/load/load_report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace outpost::load {
namespace {

nlohmann::json CodeMap(const std::map<int, std::uint64_t>& m) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [code, n] : m) j[std::to_string(code)] = n;
  return j;
}

std::string CodeList(const std::map<int, std::uint64_t>& m) {
  std::ostringstream out;
  bool first = true;
  for (const auto& [code, n] : m) {
    out << (first ? "" : ", ") << code << ": " << n;
    first = false;
  }
  return first ? std::string("-") : out.str();
}

double Ms(std::uint64_t us) { return static_cast<double>(us) / 1000.0; }

}  // namespace

std::uint64_t Percentile(std::vector<std::uint64_t>& values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  double rank = std::ceil(p / 100.0 * static_cast<double>(values.size()));
  std::size_t index = rank < 1 ? 0 : static_cast<std::size_t>(rank) - 1;
  return values[std::min(index, values.size() - 1)];
}

std::uint64_t LoadReport::ErrorCount() const {
  std::uint64_t n = 0;
  for (const auto& [kind, count] : errors) n += count;
  return n;
}

nlohmann::json LoadReport::ToJson() const {
  std::vector<std::uint64_t> lat = latencies_us;
  nlohmann::json j;
  j["target"] = target;
  j["sessions"] = sessions;
  j["elapsed_seconds"] = elapsed_seconds;
  j["connections"] = connections;
  j["messages_attempted"] = messages_attempted;
  j["messages_accepted"] = messages_accepted;
  j["messages_rejected"] = messages_rejected;
  j["messages_failed"] = messages_failed;
  j["recipients_accepted"] = recipients_accepted;
  j["bytes_accepted"] = bytes_accepted;
  j["rate_msgs_per_second"] =
      elapsed_seconds > 0 ? static_cast<double>(messages_accepted) / elapsed_seconds : 0.0;
  j["latency_ms"] = {{"p50", Ms(Percentile(lat, 50))},
                     {"p90", Ms(Percentile(lat, 90))},
                     {"p99", Ms(Percentile(lat, 99))},
                     {"max", Ms(Percentile(lat, 100))}};
  j["replies"] = CodeMap(replies);
  j["rcpt_replies"] = CodeMap(rcpt_replies);
  j["data_replies"] = CodeMap(data_replies);
  nlohmann::json errs = nlohmann::json::object();
  for (const auto& [kind, n] : errors) errs[kind] = n;
  j["errors"] = std::move(errs);
  return j;
}

std::string LoadReport::ToHuman() const {
  std::vector<std::uint64_t> lat = latencies_us;
  double rate =
      elapsed_seconds > 0 ? static_cast<double>(messages_accepted) / elapsed_seconds : 0.0;
  char buf[512];
  std::ostringstream out;
  std::snprintf(buf, sizeof buf,
                "target %s, %u sessions, %.2f s, %llu connections\n"
                "messages: %llu attempted, %llu accepted, %llu rejected, %llu failed\n"
                "rate: %.1f msgs/s; latency p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
                target.c_str(), sessions, elapsed_seconds,
                static_cast<unsigned long long>(connections),
                static_cast<unsigned long long>(messages_attempted),
                static_cast<unsigned long long>(messages_accepted),
                static_cast<unsigned long long>(messages_rejected),
                static_cast<unsigned long long>(messages_failed), rate, Ms(Percentile(lat, 50)),
                Ms(Percentile(lat, 90)), Ms(Percentile(lat, 99)), Ms(Percentile(lat, 100)));
  out << buf;
  out << "replies: " << CodeList(replies) << "\n";
  out << "rcpt replies: " << CodeList(rcpt_replies) << "\n";
  out << "data replies: " << CodeList(data_replies) << "\n";
  out << "errors:";
  if (errors.empty()) out << " none";
  for (const auto& [kind, n] : errors) out << " " << kind << "=" << n;
  out << "\n";
  return out.str();
}

}  // namespace outpost::load
