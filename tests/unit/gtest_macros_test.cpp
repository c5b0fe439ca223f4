// EXPECT_NO_BLOCKING, ASSERT_NO_BLOCKING, EXPECT_BLOCKING and UNCLOG_TEST,
// checked with gtest-spi: what fails, how often, where, and what stays quiet.
#include <gtest/gtest-spi.h>
#include <time.h>
#include <unistd.h>

#include <gmock/gmock.h>

#include <string>
#include <vector>

#include "unclog/gtest.hpp"

using namespace std::chrono_literals;
using ::testing::HasSubstr;

namespace {

void blocking_helper() { usleep(150000); }  // LINE:helper

int helper_line() { return __LINE__ - 2; }

std::int64_t thread_cpu_ns() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}

std::string base_name(const char* path) {
  std::string p = path ? path : "";
  return p.substr(p.rfind('/') + 1);
}

// Runs `f` and returns the failures it added.
template <class F>
std::vector<::testing::TestPartResult> failures_of(F&& f) {
  ::testing::TestPartResultArray results;
  {
    ::testing::ScopedFakeTestPartResultReporter reporter(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &results);
    f();
  }
  std::vector<::testing::TestPartResult> out;
  for (int i = 0; i < results.size(); ++i) out.push_back(results.GetTestPartResult(i));
  return out;
}

}  // namespace

TEST(ExpectNoBlocking, QuietForGreenWork) {
  EXPECT_NO_BLOCKING(unclog::sleep_for(80ms));
  EXPECT_NO_BLOCKING({
    for (int i = 0; i < 100; ++i) unclog::yield();
  });
}

TEST(ExpectNoBlocking, OneNonFatalFailurePerBlockingStep) {
  EXPECT_NONFATAL_FAILURE(EXPECT_NO_BLOCKING(usleep(150000)), "blocked");
  EXPECT_NONFATAL_FAILURE(EXPECT_NO_BLOCKING(usleep(150000)), "usleep");
}

TEST(ExpectNoBlocking, CpuHogIsReportedAsCpu) {
  // 150 ms of this thread's CPU time, however long a busy machine makes it.
  EXPECT_NONFATAL_FAILURE(EXPECT_NO_BLOCKING({
                            const std::int64_t end = thread_cpu_ns() + 150'000'000;
                            volatile unsigned x = 0;
                            do {
                              for (int i = 0; i < 100000; ++i) x = x + i;
                            } while (thread_cpu_ns() < end);
                          }),
                          "cpu");
}

TEST(ExpectNoBlocking, FailureIsAtTheLineThatBlocked) {
  auto results = failures_of([] { EXPECT_NO_BLOCKING(blocking_helper()); });
  ASSERT_EQ(results.size(), 1u);
  const auto& r = results[0];
  EXPECT_TRUE(r.nonfatally_failed());
  EXPECT_EQ(base_name(r.file_name()), "gtest_macros_test.cpp");
  EXPECT_EQ(r.line_number(), helper_line());
  EXPECT_THAT(r.message(), HasSubstr("blocking_helper"));
}

TEST(ExpectNoBlocking, TwoBlockingStepsGiveTwoFailures) {
  auto results = failures_of([] {
    EXPECT_NO_BLOCKING({
      usleep(120000);
      unclog::yield();
      usleep(120000);
    });
  });
  EXPECT_EQ(results.size(), 2u);
}

TEST(ExpectNoBlocking, StreamsAMessageAndWorksInUnbracedIfElse) {
  auto results = failures_of([] {
    if (true)
      EXPECT_NO_BLOCKING(usleep(120000)) << "while warming up";
    else
      FAIL() << "dangling else went to the wrong if";
  });
  ASSERT_EQ(results.size(), 1u);
  EXPECT_THAT(results[0].message(), HasSubstr("while warming up"));
}

TEST(ExpectNoBlocking, InsideAFiberUsesTheCurrentHub) {
  unclog::run([] {
    EXPECT_NONFATAL_FAILURE(EXPECT_NO_BLOCKING(usleep(120000)), "EXPECT_NO_BLOCKING");
    EXPECT_NO_BLOCKING(unclog::sleep_for(60ms));
  });
}

TEST(ExpectNoBlocking, ExceptionsPropagate) {
  EXPECT_THROW(EXPECT_NO_BLOCKING(throw std::runtime_error("x")), std::runtime_error);
}

TEST(AssertNoBlocking, FailureIsFatalAndReturns) {
  EXPECT_FATAL_FAILURE(ASSERT_NO_BLOCKING(usleep(150000)), "blocked");
  static bool reached;
  reached = false;
  auto results = failures_of([] {
    [] {
      ASSERT_NO_BLOCKING(usleep(150000));
      reached = true;
    }();
  });
  EXPECT_EQ(results.size(), 1u);
  EXPECT_FALSE(reached);
}

TEST(AssertNoBlocking, PassesForGreenWork) {
  ASSERT_NO_BLOCKING(unclog::sleep_for(60ms));
}

TEST(ExpectBlocking, PassesWhenTheStatementBlocks) { EXPECT_BLOCKING(usleep(150000)); }

TEST(ExpectBlocking, FailsWhenNothingBlocks) {
  EXPECT_NONFATAL_FAILURE(EXPECT_BLOCKING(unclog::yield()), "no step blocked");
}

TEST(AllowBlocking, SilencesTheMacro) {
  EXPECT_NO_BLOCKING({
    unclog::AllowBlocking allow("test fixture");
    usleep(120000);
  });
}

UNCLOG_TEST(UnclogTest, BodyIsTheRootFiber) {
  EXPECT_TRUE(unclog::in_fiber());
  EXPECT_EQ(unclog::fiber_name(), "UnclogTest.BodyIsTheRootFiber");
  auto h = unclog::spawn([] {
    unclog::sleep_for(60ms);
    return 5;
  });
  EXPECT_EQ(h.join(), 5);
}

class Fixture : public ::testing::Test {
 protected:
  void SetUp() override { value = 41; }
  int value = 0;
};

UNCLOG_TEST_F(Fixture, BodySeesTheFixture) {
  EXPECT_TRUE(unclog::in_fiber());
  EXPECT_EQ(++value, 42);
}

TEST(UnclogTestSpi, BlockingBodyFailsAtItsLine) {
  // The UNCLOG_TEST body runs through the same path as run_test_body.
  auto results = failures_of([] {
    struct B : unclog::gtest_internal::Body {
      void run() override { blocking_helper(); }
    } body;
    unclog::gtest_internal::run_test_body(body, "Suite", "Name");
  });
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].line_number(), helper_line());
  EXPECT_THAT(results[0].message(), HasSubstr("fiber \"Suite.Name\""));
}
