// acct::OutcomeRecord: each outcome kind's record type, dsnAction, dsnStatus, dsnDiag and
// bounceCat (table-driven, one label per case). The scheduler's tests check the same records end
// to end (tests/unit/queue/queue_manager_test.cpp).
#include "mta/acct/outcome_record.hpp"

#include <gtest/gtest.h>

namespace outpost::acct {
namespace {

using delivery::BounceCategory;
using queue::Outcome;
using queue::OutcomeKind;

delivery::Reply MakeReply(int code, std::string enhanced, std::string text) {
  delivery::Reply r;
  r.code = code;
  r.enhanced = std::move(enhanced);
  r.text = std::move(text);
  return r;
}

struct Case {
  const char* label;
  OutcomeKind kind;
  delivery::Reply reply;
  BounceCategory category;
  const char* type;
  const char* action;
  const char* status_prefix;
  const char* diag;
};

TEST(OutcomeRecord, EachKindFormatsAsPowerMtaDoes) {
  const Case cases[] = {
      {"delivered", OutcomeKind::kDelivered, MakeReply(250, "2.0.0", "ok"),
       BounceCategory::kSuccess, "d", "relayed", "2.0.0", "smtp;250 2.0.0 ok"},
      {"bounced", OutcomeKind::kBounced, MakeReply(550, "5.1.1", "no such user"),
       BounceCategory::kBadMailbox, "b", "failed", "5.1.1", "smtp;550 5.1.1 no such user"},
      {"deferred without enhanced code", OutcomeKind::kDeferred, MakeReply(451, "", "later"),
       BounceCategory::kOther, "t", "delayed", "4.0.0", "smtp;451 later"},
      {"connection lost", OutcomeKind::kDeferred, MakeReply(0, "", ""),
       BounceCategory::kBadConnection, "t", "delayed", "4.4.2",
       "smtp;connection lost before the final reply"},
      {"expired",
       OutcomeKind::kExpired,
       {},
       BounceCategory::kMessageExpired,
       "b",
       "failed",
       "5.4.7",
       "smtp;554 5.4.7 message expired: in queue longer than bounce-after 3d"},
      {"deleted",
       OutcomeKind::kDeleted,
       {},
       BounceCategory::kOther,
       "b",
       "failed",
       "5.0.0",
       "deleted by operator"},
      {"domain failed",
       OutcomeKind::kDomainFailed,
       {},
       BounceCategory::kBadDomain,
       "b",
       "failed",
       "5.1.2",
       "smtp;550 5.1.2 nx.test: no such domain"},
      {"connection failed",
       OutcomeKind::kConnectionFailed,
       {},
       BounceCategory::kNoAnswerFromHost,
       "tq",
       "delayed",
       "4.4.1",
       "smtp;nx.test: no such domain"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    Outcome o;
    o.kind = c.kind;
    o.reply = c.reply;
    o.category = c.category;
    o.recipient = "u@x.test";
    o.queue = "x.test/vmta1";
    o.vmta = "vmta1";
    o.size = 1234;
    o.error = "nx.test: no such domain";
    o.expired_after = "3d";
    o.esmtp_available = "PIPELINING";
    Record r = OutcomeRecord(o);
    EXPECT_EQ(RecordTypeCode(r.type), c.type);
    EXPECT_EQ(r[Field::kDsnAction], c.action);
    EXPECT_EQ(r[Field::kDsnStatus].rfind(c.status_prefix, 0), 0u) << r[Field::kDsnStatus];
    EXPECT_EQ(r[Field::kDsnDiag], c.diag);
    EXPECT_EQ(r[Field::kBounceCat], delivery::BounceCategoryName(c.category));
    EXPECT_EQ(r[Field::kQueue], "x.test/vmta1");
    const bool queue_failure = c.kind == OutcomeKind::kConnectionFailed;
    EXPECT_EQ(r[Field::kRcpt], queue_failure ? "" : "u@x.test");
    EXPECT_EQ(r[Field::kDlvSize], queue_failure ? "" : "1234");
    EXPECT_EQ(r[Field::kDlvEsmtpAvailable], queue_failure ? "" : "PIPELINING");
  }
}

TEST(BounceCategory, NamesRoundTrip) {
  for (int i = 0; i <= static_cast<int>(BounceCategory::kVirusRelated); ++i) {
    const auto category = static_cast<BounceCategory>(i);
    EXPECT_EQ(delivery::ParseBounceCategory(delivery::BounceCategoryName(category)), category);
  }
  EXPECT_FALSE(delivery::ParseBounceCategory("nonsense").has_value());
}

}  // namespace
}  // namespace outpost::acct
