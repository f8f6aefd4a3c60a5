#include "mta/returnpath/suppressing_deliverer.hpp"

#include <optional>

namespace outpost::returnpath {

namespace {

delivery::Reply Refusal(const std::string& recipient, const suppression::Entry& entry) {
  delivery::Reply reply;
  reply.code = 550;
  reply.enhanced = "5.7.1";
  reply.text = "<" + recipient + "> is on the suppression list (" +
               suppression::KindName(entry.kind) + "); not sent";
  return reply;
}

}  // namespace

void SuppressingDeliverer::Send(queue::ConnectionId connection, queue::BatchRequest batch,
                                std::function<void(queue::BatchOutcome)> done) {
  // refusals[i]: the answer for recipient i when it is suppressed.
  std::vector<std::optional<delivery::Reply>> refusals(batch.recipients.size());
  std::vector<std::string> kept;
  for (std::size_t i = 0; i < batch.recipients.size(); ++i) {
    if (auto entry = list_.Suppresses(batch.recipients[i])) {
      refusals[i] = Refusal(batch.recipients[i], *entry);
    } else {
      kept.push_back(batch.recipients[i]);
    }
  }
  if (kept.size() == batch.recipients.size()) {
    inner_.Send(connection, std::move(batch), std::move(done));
    return;
  }
  // The answers of the kept recipients, in order, with the refusals put back in their places.
  auto merge = [refusals = std::move(refusals)](queue::BatchOutcome outcome) {
    std::vector<delivery::Reply> replies;
    std::size_t next = 0;
    for (const std::optional<delivery::Reply>& refusal : refusals) {
      if (refusal) {
        replies.push_back(*refusal);
      } else {
        replies.push_back(next < outcome.result.rcpt_replies.size()
                              ? outcome.result.rcpt_replies[next]
                              : delivery::Reply{});
        ++next;
      }
    }
    outcome.result.rcpt_replies = std::move(replies);
    return outcome;
  };
  if (kept.empty()) {
    queue::BatchOutcome outcome;
    outcome.result.mail_reply.code = 250;
    done(merge(std::move(outcome)));
    return;
  }
  batch.recipients = std::move(kept);
  inner_.Send(connection, std::move(batch),
              [merge = std::move(merge), done = std::move(done)](queue::BatchOutcome outcome) {
                done(merge(std::move(outcome)));
              });
}

}  // namespace outpost::returnpath
