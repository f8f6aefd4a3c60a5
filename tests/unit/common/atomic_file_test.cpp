// ReplaceFileAtomically (common/atomic_file.hpp): the new content replaces the old, no temp file
// stays behind, and a failure says what failed and leaves the old file.
#include "common/atomic_file.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace outpost {
namespace {

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(ReplaceFileAtomically, ReplacesTheContentAndLeavesNoTempFile) {
  const std::string path = ::testing::TempDir() + "/atomic_file_test_state";
  std::string error;
  ASSERT_TRUE(ReplaceFileAtomically(path, "first\n", &error)) << error;
  ASSERT_TRUE(ReplaceFileAtomically(path, "second\n", &error)) << error;
  EXPECT_EQ(Read(path), "second\n");
  EXPECT_NE(::access((path + ".tmp").c_str(), F_OK), 0);
  ::unlink(path.c_str());
}

TEST(ReplaceFileAtomically, AFailureNamesTheFile) {
  std::string error;
  EXPECT_FALSE(ReplaceFileAtomically("/nonexistent-dir/state", "x", &error));
  EXPECT_NE(error.find("/nonexistent-dir/state.tmp"), std::string::npos) << error;
}

}  // namespace
}  // namespace outpost
