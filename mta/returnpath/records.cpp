#include "mta/returnpath/records.hpp"

#include "common/time_format.hpp"
#include "mta/delivery/reply_classifier.hpp"

namespace outpost::returnpath {

namespace {

using acct::Field;

// The columns rb and f records share: who brought the report, what it says about the original.
acct::Record Common(acct::RecordType type, const Report& report, const spool::Envelope& envelope,
                    std::int64_t now) {
  acct::Record r;
  r.type = type;
  r[Field::kTimeLogged] = timefmt::FormatAcctTime(now);
  r[Field::kOrig] = report.original_sender;
  r[Field::kSrcType] = "smtp";
  if (!envelope.source_ip.empty()) {
    r[Field::kSrcMta] = (envelope.source_helo.empty() ? envelope.source_ip : envelope.source_helo) +
                        " (" + envelope.source_ip + ")";
  }
  r[Field::kVmta] = report.vmta;
  r[Field::kJobId] = report.job_id;
  r[Field::kEnvId] = report.env_id;
  return r;
}

}  // namespace

delivery::Reply ReplyOf(const FailedRecipient& failed) {
  delivery::Reply reply;
  reply.code = failed.reply_code;
  if (reply.code == 0 && !failed.status.empty()) reply.code = (failed.status[0] - '0') * 100 + 50;
  reply.enhanced = failed.status;
  reply.text = failed.reply_text;
  return reply;
}

acct::Record RemoteBounceRecord(const Report& report, const FailedRecipient& failed,
                                delivery::BounceCategory category,
                                const spool::Envelope& report_envelope, std::int64_t now) {
  acct::Record r = Common(acct::RecordType::kRemoteBounce, report, report_envelope, now);
  r[Field::kRcpt] = failed.recipient;
  r[Field::kOrcpt] = failed.original_recipient;
  r[Field::kDsnAction] = "failed";
  r[Field::kDsnStatus] = delivery::DsnStatusText(failed.status.empty() ? "5.0.0" : failed.status);
  r[Field::kDsnDiag] = failed.diagnostic;
  r[Field::kDsnMta] = failed.remote_mta;
  r[Field::kBounceCat] = std::string(delivery::BounceCategoryName(category));
  return r;
}

acct::Record FeedbackRecord(const Report& report, const spool::Envelope& report_envelope,
                            std::int64_t now) {
  acct::Record r = Common(acct::RecordType::kFeedback, report, report_envelope, now);
  r[Field::kRcpt] = report.complainer;
  r[Field::kDsnMta] = report.reporting_mta;
  r[Field::kFeedbackType] = report.feedback_type;
  return r;
}

}  // namespace outpost::returnpath
