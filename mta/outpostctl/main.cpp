// outpostctl: the operator's command line, speaking PowerMTA's `pmta` (verbs from
// docs/powermta.md, "The operator commands"; the side-by-side table is docs/pmta-compat.md). It
// only talks HTTP to outpostd's management API (docs/status-api.md); it never touches the spool or
// the config file.
//
//   outpostctl [--url URL] [--json | --dom] [--timeout SECONDS] COMMAND
//     show status | show queues [DOMAIN] [--mode=normal|backoff] [--vmta=VMTA] | show topqueues
//     show domains | show topdomains | show vmtas | show counters | show license
//     pause queue Q | resume queue Q | set queue --mode=normal|backoff Q
//     delete --queue=Q [--hold] | reload
//     show jobs | pause job J | resume job J | delete --jobId=J | show settings DOMAIN[/VMTA]
//     show suppressions [ADDRESS] [--offset=N] [--maxitems=N] | suppress add|remove ADDRESS
//     show actions
//
// URL: --url, else $OUTPOST_URL, else http://127.0.0.1:8080. Output: aligned tables; --json: the
// server's JSON (Outpost's schema where the command has one); --dom: PowerMTA's `--dom` lines
// (`status.queue.smtp.rcp="42"`) from the PowerMTA pages. `show vmtas`, `show domains` and
// `show topdomains` and `show jobs` print PowerMTA's tables (pmta_view.hpp). `show settings D[/V]`
// prints the delivery settings in effect for D through V (GET /settings.json). `show actions` lists
// the alert-driven actions in effect (/status.json's `actions`). Exit codes: 0 ok,
// 1 error reply from outpostd, 2 usage, 3 outpostd not reachable, 4 access denied (http-access).
#include <httplib.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "mta/outpostctl/pmta_view.hpp"

namespace {

using nlohmann::json;

constexpr int kOk = 0;
constexpr int kErrorReply = 1;
constexpr int kUsage = 2;
constexpr int kUnreachable = 3;
constexpr int kDenied = 4;

const char* kUsageText =
    "usage: outpostctl [--url URL] [--json | --dom] [--timeout SECONDS] COMMAND\n"
    "  show status\n"
    "  show queues [DOMAIN] [--mode=normal|backoff] [--vmta=VMTA]\n"
    "  show topqueues [--maxitems=N] | show topdomains [--maxitems=N]\n"
    "  show domains | show vmtas | show counters | show license\n"
    "  pause queue DOMAIN[/VMTA]\n"
    "  resume queue DOMAIN[/VMTA]\n"
    "  set queue --mode=normal|backoff DOMAIN[/VMTA]\n"
    "  delete --queue=DOMAIN[/VMTA] [--hold]\n"
    "  show jobs | pause job ID | resume job ID | delete --jobId=ID\n"
    "  show settings DOMAIN[/VMTA]\n"
    "  show suppressions [ADDRESS] [--offset=N] [--maxitems=N]\n"
    "  suppress add ADDRESS | suppress remove ADDRESS\n"
    "  show actions\n"
    "  reload\n"
    "DOMAIN/* names every queue of DOMAIN. --json: the server's JSON; --dom: PowerMTA's\n"
    "name=\"value\" lines (show status, queues, topqueues, domains, topdomains, vmtas).\n"
    "URL defaults to $OUTPOST_URL or http://127.0.0.1:8080.\n"
    "Exit codes: 0 ok, 1 error reply, 2 usage, 3 unreachable, 4 access denied.\n";

int Usage(const std::string& problem) {
  if (!problem.empty()) std::fprintf(stderr, "outpostctl: %s\n", problem.c_str());
  std::fputs(kUsageText, stderr);
  return kUsage;
}

// A table with right-aligned numeric columns.
class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string Render() const {
    std::vector<std::size_t> width(rows_[0].size(), 0);
    std::vector<bool> numeric(rows_[0].size(), true);
    for (std::size_t r = 0; r < rows_.size(); ++r) {
      for (std::size_t c = 0; c < rows_[r].size() && c < width.size(); ++c) {
        width[c] = std::max(width[c], rows_[r][c].size());
        if (r > 0 && !IsNumber(rows_[r][c])) numeric[c] = false;
      }
    }
    std::ostringstream out;
    for (const auto& row : rows_) {
      std::string line;
      for (std::size_t c = 0; c < width.size(); ++c) {
        const std::string cell = c < row.size() ? row[c] : "";
        const std::string pad(width[c] - cell.size(), ' ');
        line += numeric[c] ? pad + cell : cell + pad;
        if (c + 1 < width.size()) line += "  ";
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out << line << "\n";
    }
    return out.str();
  }

 private:
  static bool IsNumber(const std::string& s) {
    return !s.empty() && s.find_first_not_of("0123456789.%-") == std::string::npos;
  }
  std::vector<std::vector<std::string>> rows_;
};

std::string Num(const json& v) {
  if (v.is_number_integer()) return std::to_string(v.get<long long>());
  if (v.is_number_unsigned()) return std::to_string(v.get<unsigned long long>());
  if (v.is_number_float()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v.get<double>());
    return buf;
  }
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_string()) return v.get<std::string>();
  return "";
}
std::string Kb(const json& v) { return std::to_string(v.get<long long>() / 1024); }
// A byte count as `ls -h` writes it, in powers of 1024: "512 B", "3.8 KB", "128 MB", "1.5 GB".
std::string HumanBytes(const json& v) {
  double n = v.get<double>();
  const char* units[] = {"B", "KB", "MB", "GB", "TB", "PB"};
  std::size_t unit = 0;
  while (n >= 1024 && unit + 1 < std::size(units)) {
    n /= 1024;
    ++unit;
  }
  char buf[32];
  if (unit == 0 || n >= 10) {
    std::snprintf(buf, sizeof buf, "%.0f %s", n, units[unit]);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f %s", n, units[unit]);
  }
  return buf;
}
std::string Percent(const json& v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", v.get<double>() * 100.0);
  return buf;
}

std::string Duration(long long s) {
  std::ostringstream out;
  if (s >= 86400) out << s / 86400 << "d ";
  out << (s % 86400) / 3600 << "h " << (s % 3600) / 60 << "m " << s % 60 << "s";
  return out.str();
}

// One line: health, messages, live bytes against bytes on disk, compaction, the file system. An
// older outpostd sends no live bytes or compaction figures: those parts are left out.
void PrintSpool(const json& sp) {
  std::cout << "spool: " << (sp.at("healthy").get<bool>() ? "healthy" : "UNHEALTHY") << ", "
            << Num(sp.at("entries")) << " messages; ";
  if (sp.contains("live_bytes")) std::cout << HumanBytes(sp["live_bytes"]) << " live, ";
  std::cout << HumanBytes(sp.at("bytes")) << " on disk";
  if (sp.contains("compactions") && sp.contains("bytes_reclaimed")) {
    std::cout << "; " << Num(sp["compactions"]) << " compactions, "
              << HumanBytes(sp["bytes_reclaimed"]) << " reclaimed";
    if (sp.contains("compaction_errors") && sp["compaction_errors"].get<long long>() > 0) {
      std::cout << ", compaction errors: " << Num(sp["compaction_errors"]);
    }
  }
  std::cout << "; disk " << HumanBytes(sp.at("disk_used_bytes")) << " used, "
            << HumanBytes(sp.at("disk_free_bytes")) << " free\n";
}

// Today's remote bounces and complaints per provider, when there are any (older daemons: none).
void PrintReturnPath(const json& s) {
  if (!s.contains("returnpath") || s["returnpath"]["by_provider"].empty()) return;
  std::cout << "\n";
  Table t(
      {"return path " + Num(s["returnpath"]["day"]) + " (UTC)", "remote bounces", "complaints"});
  for (const auto& [provider, x] : s["returnpath"]["by_provider"].items()) {
    t.Add({provider, Num(x["remote_bounces"]), Num(x["complaints"])});
  }
  std::cout << t.Render();
}

void PrintStatus(const json& s) {
  std::cout << "outpostd " << Num(s["version"]) << ", up " << Duration(s["uptime_seconds"]) << ", "
            << (s["ready"].get<bool>() ? "ready" : "NOT READY") << "\n";
  for (const auto& r : s["not_ready_reasons"]) std::cout << "  not ready: " << Num(r) << "\n";
  std::cout << "\n";
  Table conn({"connections", "in", "out"});
  conn.Add({"current", Num(s["connections"]["smtp_in"]), Num(s["connections"]["smtp_out"])});
  std::cout << conn.Render() << "\n";
  Table traffic({"traffic", "in msgs", "in rcpts", "in KB", "out msgs", "out rcpts", "out KB"});
  for (const char* period : {"last_minute", "last_hour", "total"}) {
    const json& in = s["traffic"]["in"][period];
    const json& out = s["traffic"]["out"][period];
    traffic.Add({period, Num(in["messages"]), Num(in["recipients"]), Kb(in["bytes"]),
                 Num(out["messages"]), Num(out["recipients"]), Kb(out["bytes"])});
  }
  std::cout << traffic.Render() << "\n";
  const json& q = s["queue"];
  Table queue({"queue", "recipients", "messages", "queues"});
  queue.Add({"total", Num(q["recipients"]), Num(q["messages"]), Num(q["queues"])});
  queue.Add({"backoff", Num(q["recipients_in_backoff"]), "", Num(q["queues_in_backoff"])});
  queue.Add({"paused", "", "", Num(q["paused_queues"])});
  queue.Add({"stalled", "", "", Num(q["stalled_queues"])});
  std::cout << queue.Render() << "\n";
  Table outcomes({"outcomes", "last 1m", "last 5m", "last 1h", "total"});
  for (const char* what : {"delivered", "deferred", "bounced"}) {
    const json& o = s["outcomes"][what];
    outcomes.Add({what, Num(o["last_1m"]), Num(o["last_5m"]), Num(o["last_1h"]), Num(o["total"])});
  }
  std::cout << outcomes.Render() << "\n";
  PrintSpool(s["spool"]);
  const json& p = s["process"];
  std::cout << "process: RSS " << Kb(p["rss_bytes"]) << " KB, swap " << Kb(p["swap_bytes"])
            << " KB, fds " << Num(p["open_fds"]) << "/" << Num(p["max_fds"]) << ", cpu "
            << Num(p["cpu_seconds"]) << " s\n";
  std::cout << "dns cache: " << Num(s["dns"]["cache_entries"]) << " entries, hit ratio "
            << Percent(s["dns"]["hit_ratio"]) << "\n";
  if (!s["backoff_queues"].empty()) {
    std::cout << "\n";
    Table backoff({"queue in backoff", "recipients", "last error"});
    for (const auto& b : s["backoff_queues"]) {
      backoff.Add({Num(b["name"]), Num(b["recipients"]), Num(b["last_error"])});
    }
    std::cout << backoff.Render();
  }
  PrintReturnPath(s);
}

void PrintQueues(const json& q) {
  Table t(
      {"queue", "mode", "paused", "rcpts", "msgs", "conns", "dlvd", "dfrd", "bncd", "last error"});
  for (const auto& x : q["queues"]) {
    t.Add({Num(x["name"]), Num(x["mode"]), x["paused"].get<bool>() ? "paused" : "-",
           Num(x["recipients"]), Num(x["messages"]), Num(x["connections"]), Num(x["delivered"]),
           Num(x["deferred"]), Num(x["bounced"]), Num(x["last_error"])});
  }
  std::cout << t.Render() << q["queues"].size() << " of " << Num(q["matched"])
            << " matching queues\n";
}

// `show settings`: the sections merged, then one `directive value` line per setting.
void PrintSettings(const json& s) {
  std::cout << "settings for " << Num(s["queue"]) << "\n";
  for (const auto& sec : s["sections"]) {
    std::cout << "  from <domain " << Num(sec["domain"]) << ">";
    if (!sec["virtual_mta"].get<std::string>().empty()) {
      std::cout << " in <virtual-mta " << Num(sec["virtual_mta"]) << ">";
    }
    if (!sec["virtual_mta_pool"].get<std::string>().empty()) {
      std::cout << " in <virtual-mta-pool " << Num(sec["virtual_mta_pool"]) << ">";
    }
    std::cout << ", line " << Num(sec["line"]) << "\n";
  }
  if (s["sections"].empty()) std::cout << "  (no <domain> section applies: built-in defaults)\n";
  Table t({"directive", "value"});
  for (const auto& [directive, value] : s["settings"].items()) t.Add({directive, Num(value)});
  std::cout << t.Render();
}

void PrintCounters(const json& c) {
  Table t({"metric", "label", "value", "last 1m", "last 1h"});
  for (const auto& m : c["metrics"]) {
    for (const auto& s : m["series"]) {
      t.Add({Num(m["name"]), Num(s["label"]), Num(s["value"]),
             s.contains("last_1m") ? Num(s["last_1m"]) : "",
             s.contains("last_1h") ? Num(s["last_1h"]) : ""});
    }
  }
  std::cout << t.Render();
}

// The suppression list (GET /api/suppressions): one address, or a page of them.
void PrintSuppressions(const json& body) {
  Table t({"Address", "Kind", "Added", "Expires"});
  const json entries = body.contains("entry") ? json::array({body["entry"]}) : body["entries"];
  for (const auto& e : entries) {
    t.Add({Num(e["address"]), Num(e["kind"]), Num(e["added"]),
           e["expires"].is_null() ? "never" : Num(e["expires"])});
  }
  std::cout << t.Render();
  if (body.contains("total")) {
    std::cout << entries.size() << " of " << Num(body["total"]) << " entries from offset "
              << Num(body["offset"]) << "\n";
  }
}

// What undoes an active alert-driven action: its alert's resolve, its `for`, both, or nothing.
std::string PendingUndo(const json& a) {
  const bool on_resolve = a["undo_on_resolve"].get<bool>();
  if (a["until"].is_null()) return on_resolve ? "on resolve" : "none (undo-on-resolve no)";
  return (on_resolve ? "on resolve or at " : "at ") + Num(a["until"]);
}

// `show actions`: the alert-driven actions in effect (/status.json's `actions`).
void PrintActions(const json& actions) {
  const json& totals = actions["totals"];
  if (actions["active"].empty()) {
    std::cout << "no alert-driven action is active (" << Num(actions["rules"]) << " rules)\n";
  } else {
    Table t({"rule", "action", "alert", "firing", "since", "undo"});
    for (const auto& a : actions["active"]) {
      std::string action = Num(a["action"]) + " " + Num(a["target"]);
      if (a.contains("pool")) action += " -> " + Num(a["pool"]);
      t.Add({Num(a["rule"]), action, Num(a["alert"]["alertname"]), Num(a["firing_alerts"]),
             Num(a["since"]), PendingUndo(a)});
    }
    std::cout << t.Render() << Num(totals["active"]) << " active of " << Num(actions["rules"])
              << " rules\n";
  }
  std::cout << "since start-up: " << Num(totals["taken"]) << " taken, " << Num(totals["undone"])
            << " undone, " << Num(totals["failed"]) << " failed\n";
}

struct Request {
  std::string method = "GET";
  std::string path;
  httplib::Params params;
  std::string kind;  // what to print
  std::string part;  // print only this member of the answer ("" = all of it)
  std::size_t max_items = 0;
};

nlohmann::ordered_json Data(const std::string& body) {
  return nlohmann::ordered_json::parse(body).at("data");
}

int Perform(const std::string& url, int timeout, bool as_json, const Request& r) {
  httplib::Client client(url);
  client.set_connection_timeout(timeout, 0);
  client.set_read_timeout(timeout, 0);
  std::string query;
  if (r.method != "GET") {
    for (const auto& [k, v] : r.params) {
      query += (query.empty() ? "?" : "&") + k + "=" + httplib::detail::encode_query_param(v);
    }
  }
  httplib::Result res = r.method == "GET"
                            ? client.Get(r.path, r.params, httplib::Headers{})
                            : client.Post(r.path + query, "", "application/x-www-form-urlencoded");
  if (!res) {
    std::fprintf(stderr, "outpostctl: cannot reach outpostd at %s: %s\n", url.c_str(),
                 res.error() == httplib::Error::Connection
                     ? "connection refused or timed out"
                     : httplib::to_string(res.error()).c_str());
    std::fprintf(stderr, "  is outpostd running with http-mgmt-port set? (--url or OUTPOST_URL)\n");
    return kUnreachable;
  }
  json body = json::parse(res->body, nullptr, false);
  if (res->status != 200) {
    std::string message = body.is_object() && body.contains("error")
                              ? body["error"].get<std::string>()
                              : "HTTP " + std::to_string(res->status);
    if (as_json && body.is_object()) {
      std::cout << body.dump(2) << "\n";
    } else {
      std::fprintf(stderr, "outpostctl: %s\n", message.c_str());
      if (body.is_object() && body.contains("errors")) {
        for (const auto& e : body["errors"]) std::fprintf(stderr, "  %s\n", Num(e).c_str());
      }
    }
    return res->status == 403 ? kDenied : kErrorReply;
  }
  if (body.is_discarded()) {
    std::fprintf(stderr, "outpostctl: outpostd answered something that is not JSON\n");
    return kErrorReply;
  }
  if (!r.part.empty()) {
    if (!body.is_object() || !body.contains(r.part)) {
      std::fprintf(stderr, "outpostctl: outpostd's answer has no '%s' (an older outpostd?)\n",
                   r.part.c_str());
      return kErrorReply;
    }
    body = body[r.part];
  }
  if (as_json) {
    std::cout << body.dump(2) << "\n";
    return kOk;
  }
  try {
    if (r.kind == "status") {
      PrintStatus(body);
    } else if (r.kind == "queues") {
      PrintQueues(body);
    } else if (r.kind == "dom") {
      std::cout << outpost::ctl::DomLines(Data(res->body));
    } else if (r.kind == "pmta-domains") {
      std::cout << outpost::ctl::DomainTable(Data(res->body), r.max_items);
    } else if (r.kind == "pmta-jobs") {
      std::cout << outpost::ctl::JobTable(Data(res->body));
    } else if (r.kind == "pmta-vmtas") {
      std::cout << outpost::ctl::VmtaTable(Data(res->body));
    } else if (r.kind == "counters") {
      PrintCounters(body);
    } else if (r.kind == "settings") {
      PrintSettings(body);
    } else if (r.kind == "suppressions") {
      PrintSuppressions(body);
    } else if (r.kind == "actions") {
      PrintActions(body);
    } else if (r.kind == "suppress") {
      std::cout << Num(body["address"]) << " " << Num(body["action"]) << ": ok\n";
    } else if (r.kind == "reload") {
      std::cout << "configuration reloaded\n";
    } else {
      std::cout << Num(body["action"]) << " "
                << Num(body.contains("job") ? body["job"] : body["queue"]) << ": ok";
      if (body.contains("queues")) std::cout << " (" << Num(body["queues"]) << " queues)";
      if (body.contains("recipients"))
        std::cout << " (" << Num(body["recipients"]) << " recipients)";
      std::cout << "\n";
    }
  } catch (const json::exception& e) {
    std::fprintf(stderr, "outpostctl: unexpected answer from outpostd (%s)\n", e.what());
    return kErrorReply;
  }
  return kOk;
}

bool Starts(const std::string& s, const std::string& prefix, std::string* rest) {
  if (s.compare(0, prefix.size(), prefix) != 0) return false;
  *rest = s.substr(prefix.size());
  return true;
}

struct Options {
  std::string url;
  bool as_json = false;
  bool dom = false;
  int timeout = 10;
  std::vector<std::string> words;
  std::string mode, vmta, queue_opt, job_opt;
  std::size_t max_items = 0;
  std::string offset;
  bool hold = false;
};

// PowerMTA names "every queue of a domain" DOMAIN/*; Outpost's API takes DOMAIN.
std::string QueueArg(std::string q) {
  if (q.size() > 2 && q.compare(q.size() - 2, 2, "/*") == 0) q.resize(q.size() - 2);
  return q;
}

// A PowerMTA page read as JSON, printed as `kind` (or as --dom lines).
Request PmtaPage(const Options& o, const std::string& path, const std::string& kind) {
  Request r;
  r.path = path;
  r.params.emplace("format", "json");
  r.kind = o.dom ? "dom" : kind;
  r.max_items = o.max_items;
  return r;
}

// `show ...`: nullopt after printing usage (the exit code is in *rc).
std::optional<Request> ParseShow(const Options& o, int* rc) {
  auto word = [&o](std::size_t i) { return i < o.words.size() ? o.words[i] : std::string(); };
  const std::string what = word(1);
  const bool two = o.words.size() == 2;
  Request r;
  if (what == "status" && two) {
    if (o.dom) return PmtaPage(o, "/status", "dom");
    r.path = "/status.json";
    r.kind = "status";
  } else if (what == "queues" && o.words.size() <= 3) {
    if (o.dom) {
      r = PmtaPage(o, "/queues", "dom");
      if (!word(2).empty()) r.params.emplace("queue", QueueArg(word(2)));
      if (!o.mode.empty()) r.params.emplace("mode", o.mode);
      if (o.max_items > 0) r.params.emplace("maxItems", std::to_string(o.max_items));
      return r;
    }
    r.path = "/queues.json";
    r.kind = "queues";
    if (!word(2).empty()) r.params.emplace("domain", word(2));
    if (!o.mode.empty()) r.params.emplace("mode", o.mode);
    if (!o.vmta.empty()) r.params.emplace("vmta", o.vmta);
  } else if (what == "topqueues" && two) {
    const std::string top = std::to_string(o.max_items > 0 ? o.max_items : 20);
    if (o.dom) {
      r = PmtaPage(o, "/queues", "dom");
      r.params.emplace("maxItems", top);
      return r;
    }
    r.path = "/queues.json";
    r.kind = "queues";
    r.params.emplace("top", top);
  } else if ((what == "domains" || what == "vmtas") && two && !o.as_json) {
    return PmtaPage(o, "/" + what, "pmta-" + what);
  } else if (what == "topdomains" && two) {
    Options top = o;
    if (top.max_items == 0) top.max_items = 20;
    return PmtaPage(top, "/domains", "pmta-domains");
  } else if ((what == "domains" || what == "vmtas" || what == "counters") && two) {
    r.path = "/" + what + ".json";
    r.kind = what;
  } else if (what == "actions" && two) {
    r.path = "/status.json";
    r.kind = "actions";
    r.part = "actions";
  } else if (what == "license" && two) {
    std::cout << "Outpost needs no license key: nothing is licensed, counted or due to expire.\n";
    *rc = kOk;
    return std::nullopt;
  } else if (what == "jobs" && two) {
    if (o.as_json) {
      r.path = "/jobs.json";
      r.kind = "jobs";
      return r;
    }
    return PmtaPage(o, "/jobs", "pmta-jobs");
  } else if (what == "settings" && o.words.size() == 3) {
    r.path = "/settings.json";
    r.kind = "settings";
    r.params.emplace("queue", word(2));
  } else if (what == "suppressions" && o.words.size() <= 3) {
    r.path = "/api/suppressions";
    r.kind = "suppressions";
    if (!word(2).empty()) r.params.emplace("address", word(2));
    if (!o.offset.empty()) r.params.emplace("offset", o.offset);
    if (o.max_items > 0) r.params.emplace("limit", std::to_string(o.max_items));
  } else {
    *rc = Usage(what.empty() ? "show what?" : "cannot show '" + what + "'");
    return std::nullopt;
  }
  return r;
}

// POST /api/job/VERB?job=ID
Request JobRequest(const std::string& verb, const std::string& job) {
  Request r;
  r.method = "POST";
  r.path = "/api/job/" + verb;
  r.params.emplace("job", job);
  r.kind = verb;
  return r;
}

// Every command: nullopt after printing usage or an answer that needs no server (*rc).
std::optional<Request> ParseCommand(const Options& o, int* rc) {
  auto word = [&o](std::size_t i) { return i < o.words.size() ? o.words[i] : std::string(); };
  const std::string verb = word(0);
  Request r;
  if (verb == "show") return ParseShow(o, rc);
  if (verb == "suppress" && (word(1) == "add" || word(1) == "remove") && o.words.size() == 3) {
    r.method = "POST";
    r.path = "/api/suppressions/" + word(1);
    r.params.emplace("address", word(2));
    r.kind = "suppress";
    return r;
  }
  if ((verb == "pause" || verb == "resume") && word(1) == "job" && o.words.size() == 3) {
    return JobRequest(verb, word(2));
  }
  if (verb == "delete" && o.words.size() == 1 && !o.job_opt.empty()) {
    return JobRequest(verb, o.job_opt);
  }
  if ((verb == "pause" || verb == "resume") && word(1) == "queue" && o.words.size() == 3) {
    r.method = "POST";
    r.path = "/api/queue/" + verb;
    r.params.emplace("queue", QueueArg(word(2)));
    r.kind = verb;
  } else if (verb == "set" && word(1) == "queue" && o.words.size() == 3) {
    if (o.mode.empty()) {
      *rc = Usage("set queue needs --mode=normal|backoff");
      return std::nullopt;
    }
    r.method = "POST";
    r.path = "/api/queue/mode";
    r.params.emplace("queue", QueueArg(word(2)));
    r.params.emplace("mode", o.mode);
    r.kind = "mode";
  } else if (verb == "delete" && o.words.size() == 1 && !o.queue_opt.empty()) {
    r.method = "POST";
    r.path = "/api/queue/delete";
    r.params.emplace("queue", QueueArg(o.queue_opt));
    if (o.hold) r.params.emplace("hold", "1");
    r.kind = "delete";
  } else if (verb == "delete" && o.words.size() == 1) {
    *rc = Usage("delete needs --queue=DOMAIN[/VMTA] or --jobId=ID");
    return std::nullopt;
  } else if (verb == "reload" && o.words.size() == 1) {
    r.method = "POST";
    r.path = "/api/reload";
    r.kind = "reload";
  } else {
    *rc = Usage(verb.empty() ? "" : "unknown command: " + verb);
    return std::nullopt;
  }
  return r;
}

// Options anywhere on the line; the rest are the command's words. nullopt: exit with *rc.
std::optional<Options> ParseOptions(int argc, char** argv, int* rc) {
  Options o;
  o.url = std::getenv("OUTPOST_URL") ? std::getenv("OUTPOST_URL") : "";
  if (o.url.empty()) o.url = "http://127.0.0.1:8080";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string v;
    if (a == "--url" && i + 1 < argc) {
      o.url = argv[++i];
    } else if (Starts(a, "--url=", &v)) {
      o.url = v;
    } else if (a == "--json") {
      o.as_json = true;
    } else if (a == "--dom") {
      o.dom = true;
    } else if (a == "--timeout" && i + 1 < argc) {
      o.timeout = std::atoi(argv[++i]);
    } else if (Starts(a, "--mode=", &v)) {
      o.mode = v;
    } else if (Starts(a, "--vmta=", &v)) {
      o.vmta = v;
    } else if (Starts(a, "--queue=", &v)) {
      o.queue_opt = v;
    } else if (Starts(a, "--jobId=", &v) || Starts(a, "--job=", &v)) {
      o.job_opt = v;
    } else if (Starts(a, "--maxitems=", &v) || Starts(a, "--maxItems=", &v)) {
      o.max_items = std::strtoul(v.c_str(), nullptr, 10);
    } else if (Starts(a, "--offset=", &v)) {
      o.offset = v;
    } else if (a == "--hold") {
      o.hold = true;
    } else if (a == "-h" || a == "--help") {
      std::fputs(kUsageText, stdout);
      *rc = kOk;
      return std::nullopt;
    } else if (a.size() > 1 && a[0] == '-') {
      *rc = Usage("unknown option " + a);
      return std::nullopt;
    } else {
      o.words.push_back(a);
    }
  }
  if (o.timeout <= 0) *rc = Usage("--timeout must be a positive number of seconds");
  if (!o.mode.empty() && o.mode != "normal" && o.mode != "backoff") {
    *rc = Usage("--mode must be normal or backoff");
  }
  if (o.as_json && o.dom) *rc = Usage("--json and --dom exclude each other");
  if (*rc != kOk) return std::nullopt;
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  int rc = kOk;
  const std::optional<Options> options = ParseOptions(argc, argv, &rc);
  if (!options) return rc;
  const std::optional<Request> request = ParseCommand(*options, &rc);
  if (!request) return rc;
  return Perform(options->url, options->timeout, options->as_json, *request);
}
