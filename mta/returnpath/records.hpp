// The accounting edge of the return path: a report becomes PowerMTA accounting records here.
//
//   rb (remote bounce), one per failed recipient of a bounce report:
//     timeLogged now; orig the original sender (our bounce address, or what the report names);
//     rcpt the failed recipient; orcpt the DSN's Original-Recipient; dsnAction failed; dsnStatus
//     the status with its RFC 3463 name (5.0.0 when the report gave none); dsnDiag the diagnostic
//     ("smtp;550 5.1.1 ..."); dsnMta the remote MTA; bounceCat from the reply classifier, as for
//     synchronous bounces; srcType smtp and srcMta the client that brought the report; vmta,
//     jobId, envId as recovered from the report.
//   f (feedback), one per complaint: timeLogged; orig the original sender; rcpt the complainer;
//     dsnMta the reporting MTA; srcType/srcMta, vmta, jobId, envId as for rb. PowerMTA's columns
//     of f records only (feedbackType, userAgent, ...) are not written yet: the files keep the
//     default header.
//
// Thread-safety: stateless.
#pragma once

#include <cstdint>

#include "common/acct_format.hpp"
#include "mta/delivery/bounce_category.hpp"
#include "mta/delivery/smtp_client.hpp"
#include "mta/returnpath/report.hpp"
#include "mta/spool/spool.hpp"

namespace outpost::returnpath {

// The remote reply a failed recipient carries (code 0 when the report gave none).
delivery::Reply ReplyOf(const FailedRecipient& failed);

acct::Record RemoteBounceRecord(const Report& report, const FailedRecipient& failed,
                                delivery::BounceCategory category,
                                const spool::Envelope& report_envelope, std::int64_t now);
acct::Record FeedbackRecord(const Report& report, const spool::Envelope& report_envelope,
                            std::int64_t now);

}  // namespace outpost::returnpath
