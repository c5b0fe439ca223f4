// The suite every consumer build compiles: one test that must fail with a
// blocking report at the marked line, one that must pass. It uses GoogleMock
// too, so the user's own gtest and gmock are really linked.
#include <gmock/gmock.h>
#include <unclog/gtest.hpp>
#include <unistd.h>

#include <vector>

void nap() {
  usleep(1000);  // CONSUMER-BLOCKING-LINE
}

TEST(Consumer, BlockingCallFails) { EXPECT_NO_BLOCKING(nap()); }

TEST(Consumer, QuietPasses) {
  std::vector<int> v{1, 2};
  EXPECT_NO_BLOCKING(v.push_back(3));
  EXPECT_THAT(v, ::testing::ElementsAre(1, 2, 3));
}
