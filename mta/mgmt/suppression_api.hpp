// The suppression list on the management API (admin level only: it lists recipients' addresses):
//   GET  /api/suppressions?offset=N&limit=N   a page of entries (limit at most 1000, default 100)
//   GET  /api/suppressions?address=A          one address (404 when not listed)
//   POST /api/suppressions/add?address=A[&kind=manual|complaint|hard-bounce]
//   POST /api/suppressions/remove?address=A   (404 when not listed)
// A change is answered 200 only once it is synced to the list's file. 400 bad address or kind,
// 404 suppression-list off, 500 the file cannot be written, 507 the list is full
// (suppression-max-entries). docs/status-api.md has the schemas.
//
// Thread-safety: the handlers run on cpp-httplib's threads; the list is thread-safe.
#pragma once

#include "mta/returnpath/suppression_list.hpp"

namespace httplib {
class Server;
}

namespace outpost::mgmt {

// True for the paths RegisterSuppressionApi serves (they need admin also to read).
bool IsSuppressionPath(const std::string& path);
// `list` may be null (suppression-list no): every endpoint answers 404 saying so.
void RegisterSuppressionApi(httplib::Server& server, suppression::SuppressionList* list);

}  // namespace outpost::mgmt
