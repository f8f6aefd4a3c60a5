// PowerMTA's monitoring pages (/status, /domains, /vmtas, /queues, /jobs with ?format=xml or
// ?format=json), rendered from the same inputs as Outpost's own documents (status_json.hpp), so
// that the scripts, Munin plugins and Zabbix checks written against PowerMTA's web monitor read
// Outpost unchanged. Element names and nesting follow PowerMTA's
// (`<rsp><data><status><traffic>...`); figures Outpost has no notion of are present with neutral
// values (0, "no"), listed in docs/status-api.md ("PowerMTA pages") and docs/pmta-compat.md.
//
// One tree, two spellings. Each page is built once as an ordered JSON tree whose object keys are
// element names and whose arrays are repeated elements; XML is that tree written out under
// <rsp><data>, JSON is {"data": tree}. So an XPath such as /rsp/data/status/queue/smtp/rcp and
// the JSON path data.status.queue.smtp.rcp always name the same figure.
//
// Thread-safety: pure functions.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "mta/mgmt/status_json.hpp"

namespace httplib {
class Server;
}

namespace outpost::mgmt {

enum class PmtaFormat { kXml, kJson };

struct PmtaQueueFilter {
  std::string queue;          // "domain/vmta", "domain", or a pattern with '*' (e.g. "*/vmta1")
  std::string mode;           // "" | "normal" | "backoff"
  std::string paused;         // "" | "yes" | "no"
  std::string sort = "rcpt";  // "rcpt" (largest first) | "name"
  std::size_t max_items = 0;  // 0: all
};

// The trees ("data" content). Arrays hold repeated elements: {"domain": [{...}, {...}]}.
nlohmann::ordered_json PmtaStatusTree(const StatusInputs& in);
nlohmann::ordered_json PmtaDomainsTree(const StatusInputs& in);
nlohmann::ordered_json PmtaVmtasTree(const StatusInputs& in);
nlohmann::ordered_json PmtaQueuesTree(const StatusInputs& in, const PmtaQueueFilter& filter);
// Every job known, most recipients queued first (at most `max_items`; 0: all).
nlohmann::ordered_json PmtaJobsTree(const StatusInputs& in, std::size_t max_items = 0);

// <?xml ...?><rsp><data>tree</data></rsp>, indented, every text escaped.
std::string PmtaXml(const nlohmann::ordered_json& tree);
// {"data": tree}, indented.
std::string PmtaJson(const nlohmann::ordered_json& tree);
// An error document: <rsp><error>message</error></rsp> or {"error": message}.
std::string PmtaError(PmtaFormat format, const std::string& message);

// Does `name` match `pattern`, where '*' matches any run of characters?
bool PmtaGlob(const std::string& pattern, const std::string& name);

// Registers GET /status, /domains, /vmtas, /queues and /jobs on `server`. `inputs` is called on the
// HTTP thread for every request (ManagementPlane's Inputs(): a snapshot, never the scheduler).
// Access control is the server's pre-routing handler, as for every other path.
void RegisterPmtaPages(httplib::Server& server, std::function<StatusInputs()> inputs);

}  // namespace outpost::mgmt
