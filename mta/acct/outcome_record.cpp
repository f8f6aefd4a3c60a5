#include "mta/acct/outcome_record.hpp"

#include "common/time_format.hpp"
#include "mta/delivery/reply_classifier.hpp"

namespace outpost::acct {
namespace {

using queue::Outcome;
using queue::OutcomeKind;

// The enhanced status a reply stands for: its own, else its class's x.0.0; a lost connection
// (no reply) is 4.4.2.
std::string StatusCode(const delivery::Reply& reply) {
  if (!reply.enhanced.empty()) return reply.enhanced;
  if (reply.code == 0) return "4.4.2";
  return std::to_string(reply.code / 100) + ".0.0";
}

std::string Diag(const delivery::Reply& reply) {
  if (reply.code == 0) {
    return reply.text.empty() ? "smtp;connection lost before the final reply"
                              : "smtp;connection lost: " + reply.text;
  }
  return "smtp;" + reply.Full();
}

// The tq record of a queue that could not connect.
Record QueueFailureRecord(const Outcome& o) {
  Record r;
  r.type = RecordType::kTransientQueue;
  const bool replied = o.reply.code != 0;
  r[Field::kTimeLogged] = timefmt::FormatAcctTime(o.time_logged);
  r[Field::kDsnAction] = "delayed";
  r[Field::kDsnStatus] = delivery::DsnStatusText(replied ? StatusCode(o.reply) : "4.4.1");
  r[Field::kDsnDiag] = replied ? "smtp;" + o.reply.Full() : "smtp;" + o.error;
  r[Field::kDsnMta] = o.remote_mta;
  r[Field::kBounceCat] = std::string(delivery::BounceCategoryName(o.category));
  r[Field::kDlvType] = "smtp";
  r[Field::kDlvSourceIp] = o.local_address;
  r[Field::kDlvDestinationIp] = o.remote_address;
  r[Field::kVmta] = o.vmta;
  r[Field::kQueue] = o.queue;
  return r;
}

}  // namespace

Record OutcomeRecord(const Outcome& o) {
  if (o.kind == OutcomeKind::kConnectionFailed) return QueueFailureRecord(o);
  Record r;
  r[Field::kTimeLogged] = timefmt::FormatAcctTime(o.time_logged);
  r[Field::kTimeQueued] = timefmt::FormatAcctTime(o.time_queued);
  r[Field::kOrig] = o.mail_from;
  r[Field::kRcpt] = o.recipient;
  r[Field::kSrcType] = "smtp";
  if (!o.source_ip.empty()) {
    r[Field::kSrcMta] =
        (o.source_helo.empty() ? o.source_ip : o.source_helo) + " (" + o.source_ip + ")";
  }
  r[Field::kDlvType] = "smtp";
  r[Field::kDlvSize] = std::to_string(o.size);
  r[Field::kVmta] = o.vmta;
  r[Field::kJobId] = o.job_id;
  r[Field::kEnvId] = o.env_id;
  r[Field::kQueue] = o.queue;
  r[Field::kVmtaPool] = o.vmta_pool;
  r[Field::kDsnMta] = o.remote_mta;
  r[Field::kDlvSourceIp] = o.local_address;
  r[Field::kDlvDestinationIp] = o.remote_address;
  r[Field::kDlvEsmtpAvailable] = o.esmtp_available;
  r[Field::kBounceCat] = std::string(delivery::BounceCategoryName(o.category));
  std::string status;
  switch (o.kind) {
    case OutcomeKind::kDelivered:
      r.type = RecordType::kDelivered;
      r[Field::kDsnAction] = "relayed";
      break;
    case OutcomeKind::kDeferred:
      r.type = RecordType::kTransient;
      r[Field::kDsnAction] = "delayed";
      break;
    case OutcomeKind::kBounced:
      r.type = RecordType::kBounced;
      r[Field::kDsnAction] = "failed";
      break;
    case OutcomeKind::kExpired:
      r.type = RecordType::kBounced;
      r[Field::kDsnAction] = "failed";
      status = "5.4.7";
      r[Field::kDsnDiag] =
          "smtp;554 5.4.7 message expired: in queue longer than bounce-after " + o.expired_after;
      break;
    case OutcomeKind::kDeleted:
      r.type = RecordType::kBounced;
      r[Field::kDsnAction] = "failed";
      status = "5.0.0";
      r[Field::kDsnDiag] = "deleted by operator";
      break;
    case OutcomeKind::kDomainFailed:
      r.type = RecordType::kBounced;
      r[Field::kDsnAction] = "failed";
      status = "5.1.2";
      r[Field::kDsnDiag] = "smtp;550 5.1.2 " + o.error;
      break;
    case OutcomeKind::kConnectionFailed:
      break;  // handled above
  }
  if (status.empty()) {  // the remote reply speaks for itself
    status = StatusCode(o.reply);
    r[Field::kDsnDiag] = Diag(o.reply);
  }
  r[Field::kDsnStatus] = delivery::DsnStatusText(status);
  return r;
}

}  // namespace outpost::acct
