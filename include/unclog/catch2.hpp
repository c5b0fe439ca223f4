// unclog for Catch2 (v2.13, the single header <catch2/catch.hpp>).
//
// Link unclog-catch2-main (pkg-config, meson's unclog-catch2-main
// dependency, CMake's unclog::catch2_main) instead of defining
// CATCH_CONFIG_MAIN: it is Catch's main plus the --unclog_* flags and
// UNCLOG_* variables, a listener that turns each blocking report into a
// failure of the running test case at the blocking line (console, -r junit,
// -r xml), and the summary line. Then, in any test case:
//
//   CHECK_NO_BLOCKING(statement);    // fails (and goes on) if it blocked
//   REQUIRE_NO_BLOCKING(statement);  // fails and ends the test case
//   CHECK_BLOCKING(statement);       // fails if it did not block
//   UNCLOG_TEST_CASE("name", "[tags]") { ... }  // the body, sections
//                                               // included, on a hub
//
// Event loops run in plain TEST_CASE bodies are watched as well.
// A program with its own main (CATCH_CONFIG_RUNNER) links unclog-catch2
// and calls unclog::catch2::init(&argc, argv) before Catch's Session.
//
// Thread-safety: the macros run on the test case's thread, as Catch's own.
#pragma once
#include <catch2/catch.hpp>

#include <string>

#include "unclog/detail/harness.hpp"
#include "unclog/unclog.hpp"

namespace unclog::catch2 {

// Reads and removes the --unclog_* arguments and configures the detector;
// exits 2 on a bad value. `--help` also prints unclog's flags.
void init(int* argc, char** argv);
// Where Catch writes its report ("junit" and a file): a hang writes the JUnit
// file there, with the hung test case. Our main sets it from Catch's config.
void set_output(const std::string& reporter, const std::string& file);
// Catch's main with unclog (what unclog-catch2-main's main calls).
int main_body(int argc, char** argv);

}  // namespace unclog::catch2

namespace unclog::catch2_internal {

using Body = harness::Body;
template <class F>
using BodyOf = harness::BodyOf<F>;

harness::Verdict run_watched(Body& body, bool expect_blocking, const char* macro, const char* statement,
                             const char* file, int line);
void run_test_body(Body& body);
template <class F>
harness::Verdict watch(F&& f, bool expect_blocking, const char* macro, const char* statement, const char* file, int line) {
  BodyOf<F> body(f);
  return run_watched(body, expect_blocking, macro, statement, file, line);
}

}  // namespace unclog::catch2_internal

#define UNCLOG_CATCH_WATCH_(macro, expect_blocking, disposition, ...)                                         \
  do {                                                                                                        \
    const ::unclog::harness::Verdict unclog_outcome_ = ::unclog::catch2_internal::watch(             \
        [&]() { __VA_ARGS__; }, expect_blocking, macro, #__VA_ARGS__, __FILE__, __LINE__);                    \
    Catch::AssertionHandler unclog_handler_(                                                                  \
        macro, ::Catch::SourceLineInfo(::unclog::harness::intern(unclog_outcome_.file),                \
                                       static_cast<std::size_t>(unclog_outcome_.line)),                       \
        #__VA_ARGS__, disposition);                                                                           \
    unclog_handler_.handleMessage(unclog_outcome_.ok ? ::Catch::ResultWas::Ok : ::Catch::ResultWas::ExplicitFailure, \
                                  unclog_outcome_.message);                                                   \
    unclog_handler_.complete();                                                                               \
  } while (false)

#define CHECK_NO_BLOCKING(...) \
  UNCLOG_CATCH_WATCH_("CHECK_NO_BLOCKING", false, ::Catch::ResultDisposition::ContinueOnFailure, __VA_ARGS__)
#define REQUIRE_NO_BLOCKING(...) \
  UNCLOG_CATCH_WATCH_("REQUIRE_NO_BLOCKING", false, ::Catch::ResultDisposition::Normal, __VA_ARGS__)
#define CHECK_BLOCKING(...) \
  UNCLOG_CATCH_WATCH_("CHECK_BLOCKING", true, ::Catch::ResultDisposition::ContinueOnFailure, __VA_ARGS__)

#define UNCLOG_CATCH_TEST_CASE_(fn, ...)                  \
  static void fn();                                       \
  TEST_CASE(__VA_ARGS__) {                                \
    auto unclog_body_ = [] { fn(); };                     \
    ::unclog::catch2_internal::BodyOf<decltype(unclog_body_)> unclog_b_(unclog_body_); \
    ::unclog::catch2_internal::run_test_body(unclog_b_);  \
  }                                                       \
  static void fn()
#define UNCLOG_TEST_CASE(...) UNCLOG_CATCH_TEST_CASE_(INTERNAL_CATCH_UNIQUE_NAME(unclog_test_case_), __VA_ARGS__)
