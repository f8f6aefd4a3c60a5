#include "exporter/oneshot_summary.hpp"

namespace outpost::exporter {

nlohmann::json OneshotSummaryJson(const OneshotRun& run) {
  std::uint64_t unread_bytes = 0;
  nlohmann::json unread_files = nlohmann::json::array();
  for (const UnreadTail& t : run.unread) {
    unread_bytes += t.bytes;
    unread_files.push_back({{"path", t.path}, {"bytes", t.bytes}});
  }
  return {{"records", run.records},
          {"records_read", run.records_read},
          {"lines", run.lines},
          {"malformed_lines", run.malformed_lines},
          {"bytes", run.bytes},
          {"unread_bytes", unread_bytes},
          {"unread_files", unread_files},
          {"files", run.files},
          {"seconds", run.seconds},
          {"records_per_second",
           run.seconds > 0 ? static_cast<double>(run.records_read) / run.seconds : 0},
          {"max_rss_kib", run.max_rss_kib}};
}

std::string OneshotUnreadText(const OneshotRun& run) {
  if (run.unread.empty()) return "";
  std::string text =
      "outpost_exporter: --oneshot read " + std::to_string(run.records_read) + " records";
  for (const UnreadTail& t : run.unread) {
    text +=
        "; " + std::to_string(t.bytes) + " bytes unread at the end of " + t.path + " (no line end)";
  }
  return text;
}

}  // namespace outpost::exporter
