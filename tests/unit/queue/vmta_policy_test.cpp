// Per-virtual-MTA policy in the scheduler, over fakes and a simulated clock: <domain> sections
// nested in <virtual-mta> shape that virtual MTA's queue only; a virtual MTA's own max-smtp-out and
// total-max-smtp-out cap connections above the queues.
#include <gtest/gtest.h>

#include <string>

#include "mta/queue/queue_manager.hpp"
#include "tests/unit/queue/fakes.hpp"

namespace outpost::queue {
namespace {

using acct::RecordType;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::Harness;

constexpr const char* kTwoVmtas = R"(
<virtual-mta slow>
  smtp-source-host 127.0.0.2 slow.example.com
  <domain example.net>
    max-smtp-out 1
  </domain>
</virtual-mta>
<virtual-mta fast>
  smtp-source-host 127.0.0.3 fast.example.com
  <domain *>
    max-smtp-out 3
  </domain>
</virtual-mta>
)";

// Injects `count` one-recipient messages to each of `domains` through `vmta`.
void InjectTo(Harness& h, const std::string& vmta, const std::vector<std::string>& domains,
              int count) {
  for (int i = 0; i < count; ++i) {
    for (const std::string& d : domains) {
      h.Inject("news@app.test", {vmta + std::to_string(i) + "@" + d}, vmta);
    }
  }
}

// Completes transactions round by round until `total` recipients were delivered.
void DrainAll(Harness& h, std::size_t total) {
  for (int round = 0; round < 200 && h.sink.Of(RecordType::kDelivered).size() < total; ++round) {
    h.deliverer.CompleteSends();
    h.RunFor(milliseconds(10));
  }
  h.deliverer.CompleteSends();
  h.RunFor(seconds(10));
  EXPECT_EQ(h.sink.Of(RecordType::kDelivered).size(), total);
}

TEST(VmtaPolicyTest, NestedDomainSectionsShapeOnlyTheirVirtualMta) {
  Harness h(std::string(kTwoVmtas) + "<domain *>\n  max-smtp-out 10\n</domain>\n");
  h.deliverer.auto_send = false;  // transactions stay open until released
  InjectTo(h, "slow", {"example.net"}, 20);
  InjectTo(h, "fast", {"example.net"}, 20);
  h.RunFor(milliseconds(10));
  EXPECT_EQ(h.deliverer.open_by_source["127.0.0.2"], 1);
  EXPECT_EQ(h.deliverer.open_by_source["127.0.0.3"], 3);
  DrainAll(h, 40);
  EXPECT_EQ(h.deliverer.max_open_by_source["127.0.0.2"], 1);
  EXPECT_EQ(h.deliverer.max_open_by_source["127.0.0.3"], 3);
}

TEST(VmtaPolicyTest, VirtualMtaMaxSmtpOutCapsItsConnectionsOverAllDomains) {
  Harness h(
      "<virtual-mta v>\n  smtp-source-host 127.0.0.2 v.example.com\n  max-smtp-out 3\n"
      "</virtual-mta>\n<domain *>\n  max-smtp-out 5\n</domain>\n");
  h.deliverer.auto_send = false;
  InjectTo(h, "v", {"a.example", "b.example", "c.example"}, 10);
  h.RunFor(milliseconds(10));
  EXPECT_EQ(h.deliverer.open, 3);
  DrainAll(h, 30);
  EXPECT_EQ(h.deliverer.max_open, 3);  // three domains could have opened 15
  // Mail without that virtual MTA is not held by its cap.
  InjectTo(h, "", {"a.example", "b.example"}, 10);
  h.RunFor(milliseconds(10));
  EXPECT_EQ(h.deliverer.open, 10);
  DrainAll(h, 50);
}

TEST(VmtaPolicyTest, TotalMaxSmtpOutCapsEveryConnectionAndFreedSlotsAreReused) {
  Harness h(std::string(kTwoVmtas) + "total-max-smtp-out 2\n<domain *>\n  max-smtp-out 5\n" +
            "</domain>\n");
  h.deliverer.auto_send = false;
  InjectTo(h, "fast", {"example.net", "example.org"}, 10);
  InjectTo(h, "slow", {"example.net"}, 10);
  InjectTo(h, "", {"example.com"}, 10);
  h.RunFor(milliseconds(10));
  EXPECT_EQ(h.deliverer.open, 2);
  DrainAll(h, 40);
  EXPECT_EQ(h.deliverer.max_open, 2);
}

TEST(VmtaPolicyTest, ReloadReadsTheCaps) {
  Harness h(
      "<virtual-mta v>\n  smtp-source-host 127.0.0.2 v.example.com\n  max-smtp-out 1\n"
      "</virtual-mta>\n");
  h.deliverer.auto_send = false;
  InjectTo(h, "v", {"a.example", "b.example", "c.example"}, 5);
  h.RunFor(milliseconds(10));
  EXPECT_EQ(h.deliverer.open, 1);
  h.manager->SetConfig(testing::ParseOrDie(
      "<virtual-mta v>\n  smtp-source-host 127.0.0.2 v.example.com\n  max-smtp-out 2\n"
      "</virtual-mta>\n"));
  h.RunFor(milliseconds(10));
  EXPECT_EQ(h.deliverer.open, 2);
  DrainAll(h, 15);
}

}  // namespace
}  // namespace outpost::queue
