// MimeDowngradeDeliverer: a fake inner Deliverer plays a server with or without 8BITMIME and
// records what it is asked to send. Each case checks the bytes and the BODY=8BITMIME flag that
// reach it, or the 554 5.6.3 answer when the message cannot be converted.
#include "mta/delivery/mime_downgrade_deliverer.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mta/delivery/mime_downgrade.hpp"

namespace outpost::delivery {
namespace {

using queue::BatchOutcome;
using queue::BatchRequest;
using queue::ConnectionId;
using queue::ConnectOutcome;
using queue::ConnectRequest;
using queue::ConnectStatus;
using queue::Deliverer;

class FakeServer final : public Deliverer {
 public:
  explicit FakeServer(std::string esmtp) : esmtp_(std::move(esmtp)) {}
  void Connect(const ConnectRequest&, std::function<void(ConnectOutcome)> done) override {
    ConnectOutcome o;
    o.status = ConnectStatus::kOk;
    o.id = 7;
    o.esmtp_available = esmtp_;
    o.remote_mta = "mx.test (192.0.2.1)";
    done(o);
  }
  void Send(ConnectionId, BatchRequest batch, std::function<void(BatchOutcome)> done) override {
    sent.push_back(batch);
    done(BatchOutcome{});
  }
  void Close(ConnectionId, std::function<void()> closed) override { closed(); }
  std::vector<BatchRequest> sent;

 private:
  std::string esmtp_;
};

const std::string kSevenBit = "From: a@x.test\r\nSubject: hi\r\n\r\nplain\r\n";
const std::string kEightBitBody = "From: a@x.test\r\nSubject: hi\r\n\r\ncaf\xc3\xa9\r\n";
const std::string kEightBitHeader = "From: a@x.test\r\nSubject: caf\xc3\xa9\r\n\r\nplain\r\n";

TEST(MimeDowngradeDeliverer, ConvertsOrFlagsOrRefuses) {
  struct Case {
    const char* label;
    const char* esmtp;
    std::string data;
    bool injected_8bit;
    bool want_sent;
    bool want_body_8bit;
    bool want_converted;
    std::uint64_t converted, refused;
  };
  const Case cases[] = {
      {"7-bit, no 8BITMIME: unchanged", "PIPELINING,SIZE", kSevenBit, false, true, false, false, 0,
       0},
      {"7-bit declared 8BITMIME, offered: flag kept", "PIPELINING,8BITMIME", kSevenBit, true, true,
       true, false, 0, 0},
      {"8-bit body, offered: BODY=8BITMIME although not declared", "8BITMIME,SIZE", kEightBitBody,
       false, true, true, false, 0, 0},
      {"8-bit body, not offered: converted", "PIPELINING,SIZE", kEightBitBody, true, true, false,
       true, 1, 0},
      {"8-bit header, not offered: refused", "PIPELINING", kEightBitHeader, true, false, false,
       false, 0, 1},
      {"8-bit header, offered: sent as it is", "8BITMIME", kEightBitHeader, true, true, true, false,
       0, 0},
  };
  for (const Case& c : cases) {
    FakeServer server(c.esmtp);
    MimeDowngradeDeliverer downgrade(server);
    ConnectionId id = 0;
    downgrade.Connect(ConnectRequest{}, [&](ConnectOutcome o) { id = o.id; });
    BatchRequest batch;
    batch.mail_from = "a@x.test";
    batch.recipients = {"r1@y.test", "r2@y.test"};
    batch.data = std::make_shared<const std::string>(c.data);
    batch.body_8bit = c.injected_8bit;
    std::optional<BatchOutcome> answer;
    downgrade.Send(id, batch, [&](BatchOutcome o) { answer = std::move(o); });
    ASSERT_TRUE(answer) << c.label;
    EXPECT_EQ(downgrade.Stats().converted, c.converted) << c.label;
    EXPECT_EQ(downgrade.Stats().refused, c.refused) << c.label;
    if (!c.want_sent) {
      EXPECT_TRUE(server.sent.empty()) << c.label;
      for (std::size_t i = 0; i < batch.recipients.size(); ++i) {
        const delivery::Reply r = answer->result.OutcomeFor(i);
        EXPECT_EQ(r.code, 554) << c.label;
        EXPECT_EQ(r.enhanced, "5.6.3") << c.label;
        EXPECT_NE(r.text.find("8-bit bytes in a header section"), std::string::npos) << r.text;
      }
      EXPECT_TRUE(answer->connection_usable) << c.label;
      continue;
    }
    ASSERT_EQ(server.sent.size(), 1u) << c.label;
    const BatchRequest& sent = server.sent.front();
    EXPECT_EQ(sent.body_8bit, c.want_body_8bit) << c.label;
    if (c.want_converted) {
      EXPECT_FALSE(delivery::HasEightBitBytes(*sent.data)) << c.label;
      EXPECT_NE(sent.data->find("Content-Transfer-Encoding: quoted-printable\r\n"),
                std::string::npos)
          << *sent.data;
      EXPECT_NE(sent.data->find("caf=C3=A9\r\n"), std::string::npos) << *sent.data;
      EXPECT_EQ(*batch.data, c.data) << "the spool's copy is not changed";
    } else {
      EXPECT_EQ(*sent.data, c.data) << c.label;
    }
  }
}

}  // namespace
}  // namespace outpost::delivery
