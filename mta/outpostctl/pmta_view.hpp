// outpostctl's PowerMTA-shaped output: the tables `pmta show vmtas` / `show domains` /
// `show topdomains` / `show jobs` print, and the `--dom` lines (`status.queue.smtp.rcp="42"`),
// rendered from the JSON of outpostd's PowerMTA pages (/vmtas?format=json, ...;
// mta/mgmt/pmta_pages.hpp). Scripts written against `pmta` parse them unchanged: the header and a
// dashed rule are the first two lines, a dashed rule and a "Total" line the last two, and the
// columns are whitespace-separated.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>

namespace outpost::ctl {

// One `path="value"` line per leaf of `data` (the page's "data" member), in document order.
// Objects join their keys with '.', repeated elements are numbered from 0 (`vmta.0.name`), and a
// value's '"' and '\' are escaped with '\'.
std::string DomLines(const nlohmann::ordered_json& data);

// VirtualMTA  Domains  Rcpt  %Total  KBytes  Conn   (from /vmtas: {"vmta": [...]})
std::string VmtaTable(const nlohmann::ordered_json& data);
// Domain  VMTAs  Rcpt  %Total  KBytes  Conn   (from /domains: {"domain": [...]}); at most
// `max_items` rows (0: all), the Total line still counting every domain.
std::string DomainTable(const nlohmann::ordered_json& data, std::size_t max_items);

// JobId  Rcpt  Msgs  Paused  Delivered  Deferred  Bounced   (from /jobs: {"job": [...]}); the
// Total line sums the counts and gives the number of jobs in the Paused column.
std::string JobTable(const nlohmann::ordered_json& data);

}  // namespace outpost::ctl
