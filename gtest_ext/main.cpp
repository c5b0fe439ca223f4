// unclog's replacement for gtest_main.
#include "unclog/gtest.hpp"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  unclog::gtest::init(&argc, argv);
  return RUN_ALL_TESTS();
}
