#include "mta/mgmt/pmta_pages.hpp"

#include <httplib.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "mta/queue/queue_name.hpp"

namespace outpost::mgmt {
namespace {

using Tree = nlohmann::ordered_json;

std::int64_t Kb(std::int64_t bytes) { return bytes / 1024; }

// One direction of one period: recipients, messages, kilobytes.
Tree Flow(std::int64_t rcp, std::int64_t msg, std::int64_t bytes) {
  Tree t;
  t["rcp"] = rcp;
  t["msg"] = msg;
  t["kb"] = Kb(bytes);
  return t;
}

// traffic/{total,lastHr,lastMin}/{in,out}/{rcp,msg,kb}; the peak periods PowerMTA keeps
// (topPerHr, topPerMin) are not measured by Outpost: zeros.
Tree Traffic(const DaemonMetrics::Snapshot& m) {
  using Snap = bus::MetricSnapshot;
  const Snap* in[3] = {&m.smtp.traffic_in_recipients_total, &m.smtp.traffic_in_messages_total,
                       &m.smtp.traffic_in_bytes_total};
  const Snap* out[3] = {&m.outcomes.traffic_out_recipients_total,
                        &m.outcomes.traffic_out_messages_total,
                        &m.outcomes.traffic_out_bytes_total};
  auto flow = [](const Snap* const(&metrics)[3], int which) {
    std::int64_t v[3];
    for (int i = 0; i < 3; ++i) {
      const bus::WindowCounts w = metrics[i]->Windows();
      v[i] = which == 0 ? metrics[i]->Value() : which == 1 ? w.last_1h : w.last_1m;
    }
    return Flow(v[0], v[1], v[2]);
  };
  Tree t;
  const std::pair<const char*, int> periods[] = {{"total", 0}, {"lastHr", 1}, {"lastMin", 2}};
  for (const auto& [period, which] : periods) {
    t[period]["in"] = flow(in, which);
    t[period]["out"] = flow(out, which);
  }
  for (const char* peak : {"topPerHr", "topPerMin"}) {
    t[peak]["in"] = Flow(0, 0, 0);
    t[peak]["out"] = Flow(0, 0, 0);
  }
  return t;
}

Tree Conn(std::int64_t cur) {
  Tree t;
  t["cur"] = cur;
  t["max"] = 0;  // no licensed or global ceiling to report
  t["top"] = 0;  // the peak is not kept
  return t;
}

// Per-domain or per-vmta sums over the queue snapshot.
struct Sums {
  std::int64_t rcp = 0, msg = 0, conn = 0, queues = 0, paused = 0, backoff = 0;
  std::set<std::string> others;  // vmtas of a domain, domains of a vmta
};

std::map<std::string, Sums> SumBy(const queue::QueueSnapshot& snap, bool by_domain) {
  std::map<std::string, Sums> out;
  for (const auto& q : snap.queues) {
    auto key = queue::ParseQueueName(q.name);
    const std::string domain = key ? key->domain : q.name;
    const std::string vmta = key ? key->vmta : "";
    Sums& s = out[by_domain ? domain : vmta];
    s.rcp += static_cast<std::int64_t>(q.recipients);
    s.msg += static_cast<std::int64_t>(q.messages);
    s.conn += static_cast<std::int64_t>(q.connections);
    ++s.queues;
    if (q.paused) ++s.paused;
    if (q.mode == "backoff") ++s.backoff;
    s.others.insert(by_domain ? vmta : domain);
  }
  return out;
}

// Largest first, then by name: the order of PowerMTA's lists.
std::vector<std::pair<std::string, Sums>> ByRecipients(std::map<std::string, Sums> sums) {
  std::vector<std::pair<std::string, Sums>> v(std::make_move_iterator(sums.begin()),
                                              std::make_move_iterator(sums.end()));
  std::stable_sort(v.begin(), v.end(),
                   [](const auto& a, const auto& b) { return a.second.rcp > b.second.rcp; });
  return v;
}

std::string Escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        // XML 1.0 forbids most control characters; a reply text never needs them.
        out += (static_cast<unsigned char>(c) < 0x20 && c != '\t') ? ' ' : c;
    }
  }
  return out;
}

std::string Text(const Tree& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_null()) return "";
  return v.dump();
}

void WriteXml(std::ostringstream& out, const std::string& name, const Tree& v, int depth) {
  const std::string indent(static_cast<std::size_t>(depth) * 2, ' ');
  if (v.is_array()) {
    for (const auto& item : v) WriteXml(out, name, item, depth);
    return;
  }
  if (!v.is_object()) {
    out << indent << '<' << name << '>' << Escape(Text(v)) << "</" << name << ">\n";
    return;
  }
  out << indent << '<' << name << ">\n";
  for (const auto& [key, child] : v.items()) WriteXml(out, key, child, depth + 1);
  out << indent << "</" << name << ">\n";
}

}  // namespace

bool PmtaGlob(const std::string& pattern, const std::string& name) {
  // Iterative '*' matching with one backtrack point.
  std::size_t p = 0, n = 0, star = std::string::npos, mark = 0;
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = n;
    } else if (p < pattern.size() && pattern[p] == name[n]) {
      ++p;
      ++n;
    } else if (star != std::string::npos) {
      p = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

Tree PmtaStatusTree(const StatusInputs& in) {
  const DaemonMetrics::Snapshot& m = in.metrics;
  const auto& totals = in.queues->totals;
  const std::int64_t uptime = m.process.process_uptime_seconds.Value();
  std::set<std::string> domains;
  for (const auto& q : in.queues->queues) {
    auto key = queue::ParseQueueName(q.name);
    domains.insert(key ? key->domain : q.name);
  }
  Tree s;
  s["version"] = "Outpost " + in.version;
  s["startTime"] = IsoTime(in.now_unix - uptime);
  s["uptime"] = uptime;
  s["traffic"] = Traffic(m);
  s["conn"]["smtpIn"] = Conn(m.smtp.connections_in.Value());
  s["conn"]["smtpOut"] = Conn(static_cast<std::int64_t>(totals.connections));
  Tree smtp;
  smtp["rcp"] = totals.recipients;
  smtp["dom"] = domains.size();
  // Queued bytes: the spool's live bytes (every stored message still owed a delivery).
  smtp["kb"] = Kb(m.spool.spool_live_bytes.Value());
  s["queue"]["smtp"] = smtp;
  // Outpost delivers by SMTP only: the other delivery methods' queues are always empty.
  for (const char* method : {"pipe", "discard", "file", "gmImprinter"}) {
    s["queue"][method] = {{"rcp", 0}, {"dom", 0}, {"kb", 0}};
  }
  const std::int64_t entries = m.spool.spool_entries.Value();
  s["spool"]["files"] = {{"total", entries}, {"inUse", entries}, {"recycled", 0}};
  s["spool"]["initPct"] = 100;  // recovery finishes before outpostd serves this page
  s["dns"] = {{"hosts", m.dns.dns_cache_entries.Value()}, {"pending", 0}};
  Tree tree;
  tree["status"] = std::move(s);
  return tree;
}

Tree PmtaDomainsTree(const StatusInputs& in) {
  Tree list = Tree::array();
  for (const auto& [name, s] : ByRecipients(SumBy(*in.queues, /*by_domain=*/true))) {
    Tree d;
    d["name"] = name;
    d["rcp"] = s.rcp;
    d["msg"] = s.msg;
    d["kb"] = 0;  // per-queue bytes are not counted
    d["conn"] = s.conn;
    d["vmtas"] = s.others.size();
    d["pausedQueues"] = s.paused;
    d["backoffQueues"] = s.backoff;
    list.push_back(std::move(d));
  }
  Tree tree;
  tree["domain"] = std::move(list);
  return tree;
}

Tree PmtaVmtasTree(const StatusInputs& in) {
  Tree list = Tree::array();
  for (const auto& [name, s] : ByRecipients(SumBy(*in.queues, /*by_domain=*/false))) {
    Tree v;
    v["name"] = name;
    v["rcp"] = s.rcp;
    v["msg"] = s.msg;
    v["dom"] = s.others.size();
    v["kb"] = 0;  // per-queue bytes are not counted
    v["conn"] = s.conn;
    v["pausedQueues"] = s.paused;
    v["backoffQueues"] = s.backoff;
    list.push_back(std::move(v));
  }
  Tree tree;
  tree["vmta"] = std::move(list);
  return tree;
}

Tree PmtaQueuesTree(const StatusInputs& in, const PmtaQueueFilter& f) {
  std::vector<const queue::QueueStats*> matched;
  for (const auto& q : in.queues->queues) {
    auto key = queue::ParseQueueName(q.name);
    const std::string domain = key ? key->domain : q.name;
    if (!f.queue.empty() && f.queue != domain && !PmtaGlob(f.queue, q.name)) continue;
    if (!f.mode.empty() && q.mode != f.mode) continue;
    if (!f.paused.empty() && (f.paused == "yes") != q.paused) continue;
    matched.push_back(&q);
  }
  std::stable_sort(matched.begin(), matched.end(), [&f](const auto* a, const auto* b) {
    if (f.sort == "name" || a->recipients == b->recipients) return a->name < b->name;
    return a->recipients > b->recipients;
  });
  if (f.max_items > 0 && matched.size() > f.max_items) matched.resize(f.max_items);
  Tree list = Tree::array();
  for (const auto* q : matched) {
    auto key = queue::ParseQueueName(q->name);
    Tree t;
    t["name"] = q->name;
    t["domain"] = key ? key->domain : q->name;
    t["vmta"] = key ? key->vmta : "";
    t["rcp"] = q->recipients;
    t["msg"] = q->messages;
    t["kb"] = 0;  // per-queue bytes are not counted
    t["conn"] = q->connections;
    t["mode"] = q->mode;
    t["paused"] = q->paused ? "yes" : "no";
    t["lastError"] = q->last_error;
    list.push_back(std::move(t));
  }
  Tree tree;
  tree["queue"] = std::move(list);
  return tree;
}

Tree PmtaJobsTree(const StatusInputs& in, std::size_t max_items) {
  Tree list = Tree::array();
  for (const queue::JobStats* j : JobsByQueued(*in.queues)) {
    if (max_items > 0 && list.size() >= max_items) break;
    Tree t;
    t["id"] = j->id;
    t["rcp"] = j->recipients;
    t["msg"] = j->messages;
    t["paused"] = j->paused ? "yes" : "no";
    t["received"] = j->received;
    t["delivered"] = j->delivered;
    t["deferred"] = j->deferred;
    t["bounced"] = j->bounced;
    t["expired"] = j->expired;
    t["deleted"] = j->deleted;
    list.push_back(std::move(t));
  }
  Tree tree;
  tree["job"] = std::move(list);
  return tree;
}

std::string PmtaXml(const Tree& tree) {
  std::ostringstream out;
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rsp>\n";
  WriteXml(out, "data", tree, 1);
  out << "</rsp>\n";
  return out.str();
}

std::string PmtaJson(const Tree& tree) {
  Tree doc;
  doc["data"] = tree;
  return doc.dump(2) + "\n";
}

std::string PmtaError(PmtaFormat format, const std::string& message) {
  if (format == PmtaFormat::kJson) return Tree{{"error", message}}.dump(2) + "\n";
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rsp>\n  <error>" + Escape(message) +
         "</error>\n</rsp>\n";
}

void RegisterPmtaPages(httplib::Server& server, std::function<StatusInputs()> inputs) {
  using Build = std::function<Tree(const httplib::Request&, const StatusInputs&)>;
  auto page = [inputs](Build build) {
    return [inputs, build = std::move(build)](const httplib::Request& req, httplib::Response& res) {
      const std::string format = req.has_param("format") ? req.get_param_value("format") : "xml";
      const PmtaFormat f = format == "json" ? PmtaFormat::kJson : PmtaFormat::kXml;
      const char* type = f == PmtaFormat::kJson ? "application/json" : "text/xml; charset=utf-8";
      res.set_header("Cache-Control", "no-store");
      if (format != "xml" && format != "json") {
        res.status = 400;
        res.set_content(PmtaError(f, "format must be xml or json"), type);
        return;
      }
      const Tree tree = build(req, inputs());
      res.set_content(f == PmtaFormat::kJson ? PmtaJson(tree) : PmtaXml(tree), type);
    };
  };
  server.Get("/status",
             page([](const auto&, const StatusInputs& in) { return PmtaStatusTree(in); }));
  server.Get("/domains",
             page([](const auto&, const StatusInputs& in) { return PmtaDomainsTree(in); }));
  server.Get("/vmtas", page([](const auto&, const StatusInputs& in) { return PmtaVmtasTree(in); }));
  server.Get("/queues", page([](const httplib::Request& req, const StatusInputs& in) {
               PmtaQueueFilter f;
               f.queue = req.get_param_value("queue");
               f.mode = req.get_param_value("mode");
               if (f.mode == "both") f.mode.clear();
               f.paused = req.get_param_value("paused");
               if (f.paused == "both") f.paused.clear();
               if (req.has_param("sort")) f.sort = req.get_param_value("sort");
               f.max_items = std::strtoul(req.get_param_value("maxItems").c_str(), nullptr, 10);
               return PmtaQueuesTree(in, f);
             }));
  server.Get("/jobs", page([](const httplib::Request& req, const StatusInputs& in) {
               return PmtaJobsTree(
                   in, std::strtoul(req.get_param_value("maxItems").c_str(), nullptr, 10));
             }));
}

}  // namespace outpost::mgmt
