// One way to turn an accepted transaction into the message the spool keeps, shared by SMTP (the
// end of DATA, session.hpp) and HTTP submission (SmtpServer::Submit, mgmt/submission_api.hpp), so
// that both inject mail the same way: the source's pattern-list routing, header processing
// (Received:, Message-ID:, remove-header, X-Job, X-EnvID, X-Virtual-MTA; message_headers.hpp) and
// the choice of virtual MTA (the submitter's request, else X-Virtual-MTA with
// process-x-virtual-mta, else the pattern-list's choice, else default-virtual-mta).
//
// Thread-safety: pure function.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mta/config/config.hpp"
#include "mta/smtp/pattern_routes.hpp"
#include "mta/spool/spool.hpp"

namespace outpost::smtp {

struct Transaction {
  std::string mail_from;
  std::vector<std::string> recipients;  // at least one
  std::string env_id;                   // ENVID; "" none (X-EnvID may supply it)
  std::string client_ip;                // as text
  std::string client_literal;           // "[192.0.2.1]"; "" hides the source (Received:)
  std::string helo;                     // EHLO name, or the submitter's name over HTTP
  std::string auth_user;
  std::string protocol;  // Received:'s "with": "ESMTP", "ESMTPSA", "HTTP"
  bool body_8bit = false;
  std::string verp_delimiters;  // XVERP / verp-default: "+=" or "-=" ("" = no VERP)
  std::string data;             // the message as received (CRLF line ends)
  // Asked by an HTTP submitter (empty: not asked): the virtual MTA or pool, checked like
  // X-Virtual-MTA but not subject to process-x-virtual-mta; the job id, over any X-Job header.
  std::string vmta;
  std::string job_id;
};

struct Prepared {
  spool::SpoolMessage message;
  std::string refusal;  // not empty: the message is refused (an unknown virtual MTA), this says why
};

// `route_list`: the policy's pattern-list, or null.
Prepared PrepareMessage(Transaction t, const config::Config& config,
                        const config::EffectiveSourcePolicy& policy, const RouteList* route_list,
                        std::string queue_id, std::int64_t now);

}  // namespace outpost::smtp
