#include "mta/outpostctl/pmta_view.hpp"

#include <algorithm>
#include <cstdio>
#include <vector>

namespace outpost::ctl {
namespace {

using Json = nlohmann::ordered_json;
using Row = std::vector<std::string>;

std::string Scalar(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_null()) return "";
  return v.dump();
}

void Flatten(const std::string& path, const Json& v, std::string& out) {
  if (v.is_object()) {
    for (const auto& [key, child] : v.items()) {
      Flatten(path.empty() ? key : path + "." + key, child, out);
    }
  } else if (v.is_array()) {
    for (std::size_t i = 0; i < v.size(); ++i) Flatten(path + "." + std::to_string(i), v[i], out);
  } else {
    out += path + "=\"";
    for (char c : Scalar(v)) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += "\"\n";
  }
}

std::string Pct(std::int64_t part, std::int64_t whole) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.1f", whole <= 0 ? 0.0 : 100.0 * part / whole);
  return buf;
}

std::int64_t Int(const Json& v) { return v.is_number() ? v.get<std::int64_t>() : 0; }

// The first column left-aligned, the others right-aligned; a dashed rule under the header and
// above the last row (the total).
std::string Render(const std::vector<Row>& rows) {
  std::vector<std::size_t> width(rows[0].size(), 0);
  for (const auto& r : rows) {
    for (std::size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], r[c].size());
  }
  auto line = [&width](const Row& r) {
    std::string s;
    for (std::size_t c = 0; c < r.size(); ++c) {
      const std::string pad(width[c] - r[c].size(), ' ');
      s += c == 0 ? r[c] + pad : "  " + pad + r[c];
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s + "\n";
  };
  Row rule;
  for (std::size_t w : width) rule.push_back(std::string(w, '-'));
  std::string out = line(rows[0]) + line(rule);
  for (std::size_t i = 1; i + 1 < rows.size(); ++i) out += line(rows[i]);
  return out + line(rule) + line(rows.back());
}

std::string Table(const Json& list, const char* title, const char* count_key,
                  const char* count_title, std::size_t max_items) {
  std::int64_t rcp = 0, kb = 0, conn = 0;
  for (const auto& x : list) {
    rcp += Int(x.value("rcp", Json()));
    kb += Int(x.value("kb", Json()));
    conn += Int(x.value("conn", Json()));
  }
  std::vector<Row> rows{{title, count_title, "Rcpt", "%Total", "KBytes", "Conn"}};
  std::size_t shown = 0;
  for (const auto& x : list) {
    if (max_items > 0 && shown++ >= max_items) break;
    const std::int64_t r = Int(x.value("rcp", Json()));
    rows.push_back({Scalar(x.value("name", Json())), Scalar(x.value(count_key, Json())),
                    std::to_string(r), Pct(r, rcp), Scalar(x.value("kb", Json())),
                    Scalar(x.value("conn", Json()))});
  }
  rows.push_back({"Total", std::to_string(list.size()), std::to_string(rcp), Pct(rcp, rcp),
                  std::to_string(kb), std::to_string(conn)});
  return Render(rows);
}

}  // namespace

std::string DomLines(const Json& data) {
  std::string out;
  Flatten("", data, out);
  return out;
}

std::string VmtaTable(const Json& data) {
  return Table(data.value("vmta", Json::array()), "VirtualMTA", "dom", "Domains", 0);
}

std::string DomainTable(const Json& data, std::size_t max_items) {
  return Table(data.value("domain", Json::array()), "Domain", "vmtas", "VMTAs", max_items);
}

std::string JobTable(const Json& data) {
  const Json list = data.value("job", Json::array());
  const char* counts[] = {"rcp", "msg", "delivered", "deferred", "bounced"};
  std::vector<std::int64_t> total(std::size(counts), 0);
  std::vector<Row> rows{{"JobId", "Rcpt", "Msgs", "Paused", "Delivered", "Deferred", "Bounced"}};
  for (const auto& j : list) {
    Row row{Scalar(j.value("id", Json()))};
    for (std::size_t c = 0; c < std::size(counts); ++c) {
      const std::int64_t n = Int(j.value(counts[c], Json()));
      total[c] += n;
      row.push_back(std::to_string(n));
      if (c == 1) row.push_back(Scalar(j.value("paused", Json())));
    }
    rows.push_back(std::move(row));
  }
  Row last{"Total"};
  for (std::size_t c = 0; c < total.size(); ++c) {
    last.push_back(std::to_string(total[c]));
    if (c == 1) last.push_back(std::to_string(list.size()));
  }
  rows.push_back(std::move(last));
  return Render(rows);
}

}  // namespace outpost::ctl
