// Fuzzes the exporter's status mapping (exporter/status_metrics.hpp MapStatus): the answers of
// one scrape in, metric families out. One input = up to four documents separated by a line
// "%%": /status.json, /queues.json, /vmtas.json, /ready, each answered with HTTP 200.
//
// Invariants checked beyond "no crash" (the header's promises):
//  * up == false returns no family and exactly one error (the /status.json one);
//  * at most one error per document;
//  * labels are bounded: direction in {in, out}, mode in {normal, backoff, paused}; a family has
//    at most top_queues queue series and max_vmtas + 1 vmta series; no label is empty-named;
//  * family names are unique and within a family no two series have the same labels (Prometheus
//    refuses a scrape with duplicate series).
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "exporter/status_metrics.hpp"
#include "fuzz/fuzz_check.hpp"

namespace {

using outpost::exporter::FetchResult;
using outpost::exporter::StatusFetches;
using outpost::exporter::StatusMapping;
using outpost::exporter::StatusMappingLimits;

FetchResult Answer(std::string_view body) {
  FetchResult r;
  r.http_status = 200;
  r.body = std::string(body);
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view rest = outpost::fuzz::AsText(data, size);
  std::vector<std::string_view> docs;
  while (docs.size() < 4) {
    const std::size_t sep = rest.find("\n%%\n");
    docs.push_back(rest.substr(0, sep));
    if (sep == std::string_view::npos) break;
    rest.remove_prefix(sep + 4);
  }
  StatusFetches fetches;
  fetches.status = Answer(docs[0]);
  if (docs.size() > 1) fetches.queues = Answer(docs[1]);
  if (docs.size() > 2) fetches.vmtas = Answer(docs[2]);
  if (docs.size() > 3) fetches.ready = Answer(docs[3]);

  StatusMappingLimits limits;
  limits.top_queues = 3;
  limits.max_vmtas = 2;
  const StatusMapping m = outpost::exporter::MapStatus(fetches, limits);

  if (!m.up) {
    FUZZ_CHECK(m.families.empty(), "down: no family");
    FUZZ_CHECK(m.errors.size() == 1, "down: exactly the status error");
    return 0;
  }
  FUZZ_CHECK(m.errors.size() <= docs.size() - 1, "at most one error per secondary document");
  std::set<std::string> names;
  for (const prometheus::MetricFamily& f : m.families) {
    FUZZ_CHECK(!f.name.empty() && names.insert(f.name).second, "family names unique");
    std::set<std::vector<std::pair<std::string, std::string>>> series;
    std::size_t queues = 0, vmtas = 0;
    for (const prometheus::ClientMetric& metric : f.metric) {
      std::vector<std::pair<std::string, std::string>> labels;
      for (const prometheus::ClientMetric::Label& l : metric.label) {
        FUZZ_CHECK(!l.name.empty(), "label name");
        if (l.name == "direction") FUZZ_CHECK(l.value == "in" || l.value == "out", "direction");
        if (l.name == "mode") {
          FUZZ_CHECK(l.value == "normal" || l.value == "backoff" || l.value == "paused", "mode");
        }
        if (l.name == "queue") ++queues;
        if (l.name == "vmta") ++vmtas;
        labels.emplace_back(l.name, l.value);
      }
      FUZZ_CHECK(series.insert(labels).second, "duplicate series in a family");
    }
    FUZZ_CHECK(queues <= limits.top_queues, "queue series capped at top_queues");
    FUZZ_CHECK(vmtas <= limits.max_vmtas + 1, "vmta series capped at max_vmtas + other");
  }
  return 0;
}
