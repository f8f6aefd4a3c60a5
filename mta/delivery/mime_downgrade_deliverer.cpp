#include "mta/delivery/mime_downgrade_deliverer.hpp"

#include <memory>
#include <utility>

#include "mta/delivery/mime_downgrade.hpp"
#include "mta/log/log.hpp"

namespace outpost::delivery {
namespace {

// "PIPELINING,8BITMIME,SIZE" -> true.
bool Offers8BitMime(const std::string& esmtp_available) {
  std::size_t pos = 0;
  while (pos <= esmtp_available.size()) {
    std::size_t comma = esmtp_available.find(',', pos);
    if (comma == std::string::npos) comma = esmtp_available.size();
    if (esmtp_available.compare(pos, comma - pos, "8BITMIME") == 0) return true;
    pos = comma + 1;
  }
  return false;
}

}  // namespace

MimeDowngradeDeliverer::MimeDowngradeDeliverer(queue::Deliverer& inner) : inner_(inner) {}

void MimeDowngradeDeliverer::Connect(const queue::ConnectRequest& request,
                                     std::function<void(queue::ConnectOutcome)> done) {
  inner_.Connect(request, [this, done = std::move(done)](queue::ConnectOutcome outcome) {
    if (outcome.status == queue::ConnectStatus::kOk) {
      connections_[outcome.id] =
          Server{Offers8BitMime(outcome.esmtp_available), outcome.remote_mta};
    }
    done(std::move(outcome));
  });
}

void MimeDowngradeDeliverer::Send(queue::ConnectionId connection, queue::BatchRequest batch,
                                  std::function<void(queue::BatchOutcome)> done) {
  auto it = connections_.find(connection);
  if (it == connections_.end() || !batch.data || !delivery::HasEightBitBytes(*batch.data)) {
    inner_.Send(connection, std::move(batch), std::move(done));
    return;
  }
  const Server& server = it->second;
  if (server.eight_bit_mime) {
    batch.body_8bit = true;  // MAIL FROM ... BODY=8BITMIME
    inner_.Send(connection, std::move(batch), std::move(done));
    return;
  }
  delivery::DowngradeResult converted = delivery::DowngradeTo7Bit(*batch.data);
  if (converted.status == delivery::DowngradeStatus::kConverted) {
    ++stats_.converted;
    batch.data = std::make_shared<const std::string>(std::move(converted.data));
    batch.body_8bit = false;
    inner_.Send(connection, std::move(batch), std::move(done));
    return;
  }
  // Not convertible: RFC 6152 leaves returning it as undeliverable.
  ++stats_.refused;
  OUTPOST_LOG(kWarning, "delivery")
      << "8-bit message to " << server.name
      << ", which does not offer 8BITMIME, cannot be converted to 7-bit (" << converted.error
      << "); bouncing " << batch.recipients.size() << " recipient(s)";
  queue::BatchOutcome outcome;
  outcome.connection_usable = true;
  delivery::Reply refusal;
  refusal.code = 554;
  refusal.enhanced = "5.6.3";
  refusal.text = "Conversion required but not possible: " + converted.error +
                 "; the receiving server does not offer 8BITMIME";
  outcome.result.mail_reply = refusal;
  outcome.result.rcpt_replies.assign(batch.recipients.size(), delivery::Reply{});
  done(std::move(outcome));
}

void MimeDowngradeDeliverer::Close(queue::ConnectionId connection, std::function<void()> closed) {
  connections_.erase(connection);
  inner_.Close(connection, std::move(closed));
}

void MimeDowngradeDeliverer::ResolveMxHosts(const std::string& domain,
                                            std::function<void(queue::MxHostsAnswer)> done) {
  inner_.ResolveMxHosts(domain, std::move(done));
}

}  // namespace outpost::delivery
