#include "common/invariant.hpp"

#include <gtest/gtest.h>

#include <string>

namespace outpost {
namespace {

TEST(InvariantTest, HoldingInvariantIsTrueAndCountsNothing) {
  const std::uint64_t before = InvariantViolations();
  int evaluated = 0;
  EXPECT_TRUE(OUTPOST_INVARIANT(++evaluated == 1, "evaluated once"));
  EXPECT_EQ(evaluated, 1);
  EXPECT_EQ(InvariantViolations(), before);
}

#ifdef OUTPOST_INVARIANTS_ABORT
TEST(InvariantDeathTest, ViolationAbortsInCheckingBuilds) {
  EXPECT_DEATH((void)OUTPOST_INVARIANT(1 + 1 == 3, "arithmetic"),
               "invariant violated: arithmetic \\(1 \\+ 1 == 3\\) at .*invariant_test.cpp");
}
#else
std::string g_reported;
void Capture(std::string_view message) { g_reported = std::string(message); }

TEST(InvariantTest, ViolationIsCountedReportedAndFalseInReleaseBuilds) {
  SetInvariantReporter(Capture);
  const std::uint64_t before = InvariantViolations();
  const std::size_t index = 7;
  EXPECT_FALSE(OUTPOST_INVARIANT(index < 3, "recipient index in range"));
  EXPECT_EQ(InvariantViolations(), before + 1);
  EXPECT_NE(g_reported.find("invariant violated: recipient index in range (index < 3) at "),
            std::string::npos)
      << g_reported;
  EXPECT_NE(g_reported.find("invariant_test.cpp:"), std::string::npos);
  SetInvariantReporter(nullptr);
}
#endif

}  // namespace
}  // namespace outpost
