// unclog for GoogleTest: blocking steps become test failures at the line
// that blocked.
//
//   EXPECT_NO_BLOCKING(statement) / ASSERT_NO_BLOCKING(statement)
//     Runs the statement as a fiber (on the current hub inside a fiber,
//     otherwise on a new hub) and adds one failure per blocking step, at the
//     user's file:line, with the report as message. Streams like EXPECT_*:
//     EXPECT_NO_BLOCKING(fetch()) << "while fetching";
//   EXPECT_BLOCKING(statement)
//     The inverse: fails unless some step of the statement blocked.
//   UNCLOG_TEST(Suite, Name) { ... } / UNCLOG_TEST_F(Fixture, Name) { ... }
//     A test whose body is the root fiber of a new hub; every blocking step
//     fails the test.
//
// Link unclog-gtest-main (our gtest_main) or call unclog::gtest::init()
// after testing::InitGoogleTest() in your own main.
//
// Thread-safety: like GoogleTest's assertions. Reports raised on other
// threads during a test are added to it when it ends.
#pragma once
#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "unclog/detail/harness.hpp"
#include "unclog/unclog.hpp"

namespace unclog::gtest {

// Reads the --unclog_* flags left in argv after InitGoogleTest (removing
// them) and their UNCLOG_* environment defaults, configures the detector and
// installs the listener. A malformed value or an unknown --unclog_* flag
// prints one line naming it and exits with status 2.
void init(int* argc, char** argv);

// The text of our flags, for --help.
const char* flags_help() noexcept;

// What unclog-gtest-main's main does: InitGoogleTest, init, RUN_ALL_TESTS.
int main_body(int argc, char** argv);

}  // namespace unclog::gtest

namespace unclog::gtest_internal {

enum class Expect { no_blocking, blocking };

// The result of running a statement watched: converts to true when it met
// the expectation; otherwise file()/line()/message() describe the last
// failure (earlier ones, one per extra blocking step, are already added).
class Outcome {
 public:
  Outcome(bool ok, std::string file, int line, std::string message)
      : ok_(ok), file_(std::move(file)), line_(line), message_(std::move(message)) {}
  explicit operator bool() const noexcept { return ok_; }
  const char* file() const noexcept { return file_.c_str(); }
  int line() const noexcept { return line_; }
  const char* message() const noexcept { return message_.c_str(); }

 private:
  bool ok_;
  std::string file_;
  int line_;
  std::string message_;
};

using Body = harness::Body;
template <class F>
using BodyOf = harness::BodyOf<F>;

Outcome run_watched(Body& body, Expect expect, bool fatal, const char* statement, const char* file, int line);
void run_test_body(Body& body, const char* suite, const char* name);

template <class F>
Outcome watch_statement(F&& f, Expect expect, bool fatal, const char* statement, const char* file, int line) {
  BodyOf<F> body(f);
  return run_watched(body, expect, fatal, statement, file, line);
}

template <class Test, class Parent>
bool register_test(const char* suite, const char* name, const char* file, int line) {
  ::testing::RegisterTest(suite, name, nullptr, nullptr, file, line, []() -> Parent* { return new Test(); });
  return true;
}

}  // namespace unclog::gtest_internal

#define UNCLOG_WATCH_(expect, fatal, result_type, on_failure, ...)                                        \
  GTEST_AMBIGUOUS_ELSE_BLOCKER_                                                                          \
  if (const ::unclog::gtest_internal::Outcome unclog_outcome_ = ::unclog::gtest_internal::watch_statement( \
          [&]() { __VA_ARGS__; }, ::unclog::gtest_internal::Expect::expect, fatal, #__VA_ARGS__, __FILE__,   \
          __LINE__))                                                                                     \
    ;                                                                                                    \
  else                                                                                                   \
    on_failure GTEST_MESSAGE_AT_(unclog_outcome_.file(), unclog_outcome_.line(), unclog_outcome_.message(), \
                                 result_type)

#define EXPECT_NO_BLOCKING(...) \
  UNCLOG_WATCH_(no_blocking, false, ::testing::TestPartResult::kNonFatalFailure, , __VA_ARGS__)
#define ASSERT_NO_BLOCKING(...) \
  UNCLOG_WATCH_(no_blocking, true, ::testing::TestPartResult::kFatalFailure, return, __VA_ARGS__)
#define EXPECT_BLOCKING(...) \
  UNCLOG_WATCH_(blocking, false, ::testing::TestPartResult::kNonFatalFailure, , __VA_ARGS__)

#define UNCLOG_TEST_CLASS_NAME_(suite, name) suite##_##name##_UnclogTest

#define UNCLOG_TEST_IMPL_(suite, name, parent)                                                      \
  class UNCLOG_TEST_CLASS_NAME_(suite, name) : public parent {                                      \
   public:                                                                                          \
    void TestBody() override {                                                                      \
      auto body = [this] { this->UnclogBody(); };                                                   \
      ::unclog::gtest_internal::BodyOf<decltype(body)> b(body);                                     \
      ::unclog::gtest_internal::run_test_body(b, #suite, #name);                                    \
    }                                                                                               \
    void UnclogBody();                                                                              \
  };                                                                                                \
  [[maybe_unused]] static const bool unclog_registered_##suite##_##name##_ =                        \
      ::unclog::gtest_internal::register_test<UNCLOG_TEST_CLASS_NAME_(suite, name), parent>(        \
          #suite, #name, __FILE__, __LINE__);                                                       \
  void UNCLOG_TEST_CLASS_NAME_(suite, name)::UnclogBody()

#define UNCLOG_TEST(suite, name) UNCLOG_TEST_IMPL_(suite, name, ::testing::Test)
#define UNCLOG_TEST_F(fixture, name) UNCLOG_TEST_IMPL_(fixture, name, fixture)
