// MxRollup on its own: which destination a domain gets, when DNS is asked, how long a decision
// lasts, and that parked recipients come back with the decision. The scheduler's use of it (queue
// names, shared connections) is covered in queue_manager_test.cpp.
#include "mta/queue/mx_rollup.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "tests/unit/queue/fakes.hpp"

namespace outpost::queue {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using testing::FakeDeliverer;

// An MxRollup over the fake deliverer's DNS; deferred answers run when the test says so.
struct RollupHarness {
  explicit RollupHarness(const std::string& config_text)
      : deliverer(&clock),
        rollup(
            testing::ParseOrDie(config_text), deliverer, clock,
            [this](std::function<void()> task) { deferred.push_back(std::move(task)); },
            [this](const Destination& dest, std::vector<ParkedRecipient> parked) {
              decisions.push_back(dest);
              for (ParkedRecipient& p : parked) released.push_back(std::move(p));
            }) {
    deliverer.mx_hosts["gmail.com"] =
        FakeDeliverer::Hosts({"a.mx.google.test", "b.mx.google.test"});
  }

  void RunDeferred() {
    while (!deferred.empty()) {
      std::vector<std::function<void()>> now;
      now.swap(deferred);
      for (auto& task : now) task();
    }
  }

  // DestinationFor(), parking the recipient when it must wait, then the DNS answers.
  Destination Decide(const std::string& domain, std::uint32_t msg = 0) {
    const Destination* d = rollup.DestinationFor(domain, clock.Now().mono);
    if (d != nullptr) return *d;
    rollup.Park(domain, ParkedRecipient{msg, 0, false, "{default}"});
    RunDeferred();
    d = rollup.DestinationFor(domain, clock.Now().mono);
    EXPECT_NE(d, nullptr) << domain;
    return d != nullptr ? *d : Destination{};
  }

  long Queries(const std::string& domain) const {
    return std::count(deliverer.mx_queries.begin(), deliverer.mx_queries.end(), domain);
  }

  SimulatedClock clock;
  FakeDeliverer deliverer;
  std::vector<std::function<void()>> deferred;
  std::vector<Destination> decisions;
  std::vector<ParkedRecipient> released;
  MxRollup rollup;
};

constexpr const char* kRollupAll = "<domain *>\n  mx-rollup gmail.com\n</domain>\n";

TEST(MxRollup, WithoutRollupTheDomainIsItsOwnDestinationWithoutDns) {
  RollupHarness h("");
  const Destination* d = h.rollup.DestinationFor("example.net", h.clock.Now().mono);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->name, "example.net");
  EXPECT_EQ(d->mx_domain, "example.net");
  EXPECT_TRUE(h.deliverer.mx_queries.empty());
}

TEST(MxRollup, TheRollupsOwnNameIsDecidedWithoutDns) {
  RollupHarness h(kRollupAll);
  const Destination* d = h.rollup.DestinationFor("gmail.com", h.clock.Now().mono);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->name, "gmail.com");
  EXPECT_TRUE(h.deliverer.mx_queries.empty());
}

TEST(MxRollup, SameHostsShareTheRollupAndParkedRecipientsComeBack) {
  RollupHarness h(kRollupAll);
  h.deliverer.mx_hosts["workspace.test"] =
      FakeDeliverer::Hosts({"a.mx.google.test", "b.mx.google.test"});
  EXPECT_EQ(h.rollup.DestinationFor("workspace.test", h.clock.Now().mono), nullptr);
  h.rollup.Park("workspace.test", ParkedRecipient{7, 2, true, "vmta1"});
  h.rollup.Park("workspace.test", ParkedRecipient{8, 0, false, "vmta1"});
  // A second recipient while the answer is outstanding: still parked, DNS not asked again.
  EXPECT_EQ(h.rollup.DestinationFor("workspace.test", h.clock.Now().mono), nullptr);
  EXPECT_TRUE(h.decisions.empty());  // answers are deferred, never handled inside the lookup
  h.RunDeferred();
  ASSERT_EQ(h.decisions.size(), 1u);
  EXPECT_EQ(h.decisions[0].name, "gmail.com");
  EXPECT_EQ(h.decisions[0].mx_domain, "gmail.com");
  ASSERT_EQ(h.released.size(), 2u);
  EXPECT_EQ(h.released[0].msg, 7u);
  EXPECT_EQ(h.released[0].rcpt, 2u);
  EXPECT_TRUE(h.released[0].retry);
  EXPECT_EQ(h.released[1].msg, 8u);
  EXPECT_EQ(h.Queries("workspace.test"), 1);
  EXPECT_EQ(h.Queries("gmail.com"), 1);
}

TEST(MxRollup, OtherHostsOrDnsFailuresKeepTheDomainsOwnDestination) {
  RollupHarness h(kRollupAll);
  h.deliverer.mx_hosts["half.test"] = FakeDeliverer::Hosts({"a.mx.google.test"});
  h.deliverer.mx_hosts["flaky.test"] = MxHostsAnswer{};  // kTempFail
  EXPECT_EQ(h.Decide("half.test").name, "half.test");
  EXPECT_EQ(h.Decide("gone.test").name, "gone.test");  // NXDOMAIN
  const Destination flaky = h.Decide("flaky.test");
  EXPECT_EQ(flaky.name, "flaky.test");
  // A temporary failure is retried sooner than a decision is kept.
  EXPECT_EQ(flaky.expires, h.clock.Now().mono + kRollupRetry);
  EXPECT_EQ(h.Decide("half.test").expires, h.clock.Now().mono + kRollupTtl);
}

TEST(MxRollup, ANameThatIsNotAMailDomainIsDefinedByTheFirstMember) {
  RollupHarness h("<domain *>\n  mx-rollup google\n</domain>\n");
  h.deliverer.mx_hosts["first.test"] = FakeDeliverer::Hosts({"mx.shared.test"});
  h.deliverer.mx_hosts["second.test"] = FakeDeliverer::Hosts({"mx.shared.test"});
  h.deliverer.mx_hosts["third.test"] = FakeDeliverer::Hosts({"mx.third.test"});
  const Destination first = h.Decide("first.test");
  EXPECT_EQ(first.name, "google");
  EXPECT_EQ(first.mx_domain, "first.test");
  const Destination second = h.Decide("second.test");
  EXPECT_EQ(second.name, "google");
  EXPECT_EQ(second.mx_domain, "first.test");  // the defining member's MX and policy
  EXPECT_EQ(h.Decide("third.test").name, "third.test");
}

TEST(MxRollup, DecisionsExpireAndAreForgottenOnReload) {
  RollupHarness h(kRollupAll);
  h.deliverer.mx_hosts["workspace.test"] =
      FakeDeliverer::Hosts({"a.mx.google.test", "b.mx.google.test"});
  EXPECT_EQ(h.Decide("workspace.test").name, "gmail.com");
  h.clock.Advance(minutes(30));
  EXPECT_EQ(h.Decide("workspace.test").name, "gmail.com");  // cached
  EXPECT_EQ(h.Queries("workspace.test"), 1);
  h.clock.Advance(minutes(31));  // past kRollupTtl: both answers asked again
  EXPECT_EQ(h.Decide("workspace.test").name, "gmail.com");
  EXPECT_EQ(h.Queries("workspace.test"), 2);
  EXPECT_EQ(h.Queries("gmail.com"), 2);
  // Reload: the MX set changed meanwhile; the next recipient sees it.
  h.deliverer.mx_hosts["workspace.test"] = FakeDeliverer::Hosts({"mx.elsewhere.test"});
  h.rollup.SetConfig(testing::ParseOrDie(kRollupAll));
  h.clock.Advance(seconds(1));
  EXPECT_EQ(h.Decide("workspace.test").name, "workspace.test");
  EXPECT_EQ(h.Queries("workspace.test"), 3);
}

}  // namespace
}  // namespace outpost::queue
