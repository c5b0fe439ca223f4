// unclog for doctest (2.4, <doctest/doctest.h>).
//
// Link unclog-doctest-main (pkg-config, meson's unclog-doctest-main
// dependency, CMake's unclog::doctest_main) instead of defining
// DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN: it is doctest's main plus the
// --unclog_* flags and UNCLOG_* variables, a listener that turns each
// blocking report into a failure of the running test case at the blocking
// line (console, --reporters=junit, --reporters=xml), and the summary
// line. Then, in any test case:
//
//   CHECK_NO_BLOCKING(statement);    // fails (and goes on) if it blocked
//   REQUIRE_NO_BLOCKING(statement);  // fails and ends the test case
//   CHECK_BLOCKING(statement);       // fails if it did not block
//   UNCLOG_TEST_CASE("name") { ... } // the body, subcases included, on a hub
//
// Event loops run in plain TEST_CASE bodies are watched as well.
// A program with its own main (DOCTEST_CONFIG_IMPLEMENT) links
// unclog-doctest and calls unclog::doctest::init(&argc, argv) first.
//
// Thread-safety: the macros run on the test case's thread, as doctest's own.
#pragma once
#include <doctest/doctest.h>

#include <string>

#include "unclog/detail/harness.hpp"
#include "unclog/unclog.hpp"

namespace unclog::doctest {

// Reads and removes the --unclog_* arguments and configures the detector;
// exits 2 on a bad value. --help also prints unclog's flags. Also reads
// doctest's --reporters and --out, where a hang writes its JUnit file.
void init(int* argc, char** argv);
// doctest's main with unclog (what unclog-doctest-main's main calls).
int main_body(int argc, char** argv);

}  // namespace unclog::doctest

namespace unclog::doctest_internal {

harness::Verdict run_watched(harness::Body& body, bool expect_blocking, const char* macro, const char* statement,
                             const char* file, int line);
void run_test_body(harness::Body& body);
// A failed CHECK (or REQUIRE: ends the test case) at file:line whose values
// are `message`: doctest's JUnit reporter records assertions, not messages.
void fail(const char* file, int line, const char* expression, const std::string& message, bool require);

template <class F>
harness::Verdict watch(F&& f, bool expect_blocking, const char* macro, const char* statement, const char* file, int line) {
  harness::BodyOf<F> body(f);
  return run_watched(body, expect_blocking, macro, statement, file, line);
}

}  // namespace unclog::doctest_internal

#define UNCLOG_DOCTEST_WATCH_(macro, expect_blocking, require, ...)                                \
  do {                                                                                             \
    const ::unclog::harness::Verdict unclog_outcome_ = ::unclog::doctest_internal::watch( \
        [&]() { __VA_ARGS__; }, expect_blocking, macro, #__VA_ARGS__, __FILE__, __LINE__);         \
    if (!unclog_outcome_.ok) {                                                                     \
      ::unclog::doctest_internal::fail(unclog_outcome_.file.c_str(), unclog_outcome_.line,         \
                                       macro "(" #__VA_ARGS__ ")", unclog_outcome_.message, require); \
    }                                                                                              \
  } while (false)

#define CHECK_NO_BLOCKING(...) UNCLOG_DOCTEST_WATCH_("CHECK_NO_BLOCKING", false, false, __VA_ARGS__)
#define REQUIRE_NO_BLOCKING(...) UNCLOG_DOCTEST_WATCH_("REQUIRE_NO_BLOCKING", false, true, __VA_ARGS__)
#define CHECK_BLOCKING(...) UNCLOG_DOCTEST_WATCH_("CHECK_BLOCKING", true, false, __VA_ARGS__)

#define UNCLOG_DOCTEST_TEST_CASE_(fn, name)                                     \
  static void fn();                                                             \
  DOCTEST_TEST_CASE(name) {                                                     \
    auto unclog_body_ = [] { fn(); };                                           \
    ::unclog::harness::BodyOf<decltype(unclog_body_)> unclog_b_(unclog_body_);  \
    ::unclog::doctest_internal::run_test_body(unclog_b_);                       \
  }                                                                             \
  static void fn()
#define UNCLOG_TEST_CASE(name) UNCLOG_DOCTEST_TEST_CASE_(DOCTEST_ANONYMOUS(unclog_test_case_), name)
