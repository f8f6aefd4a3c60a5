// 8-bit messages and servers without 8BITMIME (RFC 6152) at the Deliverer seam: a decorator in
// front of the DKIM signer (MimeDowngradeDeliverer -> SigningDeliverer -> SmtpDeliverer), so a
// signature always covers the bytes that go on the wire.
//
// What it does: Connect() remembers whether each connection's server offered 8BITMIME (the
// ConnectOutcome's esmtp_available). Send() looks at the message:
// * no byte >= 0x80: forwarded unchanged (BODY=8BITMIME only when it was injected with it and
//   the server offers it; the SMTP client decides that from body_8bit);
// * 8-bit bytes and the server offers 8BITMIME: forwarded with body_8bit set, so MAIL FROM says
//   BODY=8BITMIME even when the client did not declare it at injection;
// * 8-bit bytes and no 8BITMIME: converted to 7-bit MIME (delivery::DowngradeTo7Bit: quoted-
//   printable for text parts, base64 for the others) and the converted copy is forwarded (and
//   signed by the next decorator); counted as `converted`;
// * not convertible (8-bit header fields, ...): nothing is sent; every recipient of the batch is
//   answered "554 5.6.3 Conversion required but not possible: ..." — a permanent failure, so the
//   scheduler writes its b record and the DSN like any 5xx; counted as `refused`, logged as a
//   warning. The connection stays usable (no command was sent on it).
//
// The spool keeps the original bytes: a retry through a server that offers 8BITMIME sends them
// unchanged. Cost: one scan of the message per batch; a conversion copies it once.
//
// Thread-safety: not thread-safe: used from the queue manager's io thread, like the Deliverer it
// wraps.
#pragma once

#include <cstdint>
#include <unordered_map>

#include "mta/queue/deliverer.hpp"

namespace outpost::delivery {

struct MimeDowngradeStats {
  std::uint64_t converted = 0;  // batches converted to 7-bit for a server without 8BITMIME
  std::uint64_t refused = 0;    // batches answered 554 5.6.3 (not convertible)
};

// Not thread-safe (see the header comment).
class MimeDowngradeDeliverer final : public queue::Deliverer {
 public:
  // `inner` must outlive this object.
  explicit MimeDowngradeDeliverer(queue::Deliverer& inner);

  void Connect(const queue::ConnectRequest& request,
               std::function<void(queue::ConnectOutcome)> done) override;
  void Send(queue::ConnectionId connection, queue::BatchRequest batch,
            std::function<void(queue::BatchOutcome)> done) override;
  void Close(queue::ConnectionId connection, std::function<void()> closed) override;
  void ResolveMxHosts(const std::string& domain,
                      std::function<void(queue::MxHostsAnswer)> done) override;

  const MimeDowngradeStats& Stats() const { return stats_; }

 private:
  struct Server {
    bool eight_bit_mime = false;
    std::string name;  // remote_mta, for the refusal's text
  };
  queue::Deliverer& inner_;
  std::unordered_map<queue::ConnectionId, Server> connections_;
  MimeDowngradeStats stats_;
};

}  // namespace outpost::delivery
