// A test program with a main of its own that links unclog's gtest_main like
// every other test target of its project (as GoogleTest's gtest_main allows):
// its main must win, and unclog must work once it calls init.
#include <gtest/gtest.h>
#include <unclog/gtest.hpp>
#include <unistd.h>

#include <cstdio>

TEST(OwnMain, BlockingCallFails) { EXPECT_BLOCKING(usleep(1000)); }

int main(int argc, char** argv) {
  std::puts("OWN-MAIN-RAN");
  ::testing::InitGoogleTest(&argc, argv);
  unclog::gtest::init(&argc, argv);
  return RUN_ALL_TESTS();
}
