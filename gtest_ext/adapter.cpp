// GoogleTest's side of the harness (unclog/detail/harness.hpp): failures
// through AssertHelper, the hang's line and XML where --gtest_output says,
// and the runtime of EXPECT_*BLOCKING and UNCLOG_TEST.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "adapter.hpp"
#include "unclog/detail/harness.hpp"
#include "unclog/gtest.hpp"

namespace unclog::gtest_internal {
namespace {

void fail_at(const char* file, int line, const std::string& message) {
  // No frame of the user's: the running test's definition, which CI
  // annotations can place ("unknown file" they cannot).
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  if (!file && info && info->file()) {
    file = info->file();
    line = info->line();
  }
  ::testing::internal::AssertHelper(::testing::TestPartResult::kNonFatalFailure, file, line, message.c_str()) =
      ::testing::Message();
}

// --gtest_output (or GTEST_OUTPUT): "xml", "xml:FILE" or "xml:DIR/", as
// gtest reads it; the directory form gets the executable's name.
std::string output_path() {
  const std::string output = GTEST_FLAG_GET(output);
  const std::size_t colon = output.find(':');
  if (output.substr(0, colon) != "xml") return "";
  std::string path = colon == std::string::npos ? "" : output.substr(colon + 1);
  if (path.empty()) return "test_detail.xml";
  if (path.back() == '/') {
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    std::string name = n > 0 ? std::string(exe, static_cast<std::size_t>(n)) : "test";
    name = name.substr(name.rfind('/') + 1);
    path += name + ".xml";
  }
  return path;
}

void on_hang(const BlockingReport& r) {
  const std::string hung = harness::running_test();
  std::fprintf(stdout, "[  FAILED  ] %s (hang)\n", hung.c_str());
  std::fflush(stdout);
  const std::string path = output_path();
  if (path.empty()) return;
  const std::size_t dot = hung.find('.');
  harness::write_junit(path, dot == std::string::npos ? hung : hung.substr(0, dot),
                       dot == std::string::npos ? "" : hung.substr(dot + 1), r);
}

}  // namespace

void install_adapter() {
  harness::Adapter a;
  a.fail_at = fail_at;
  a.on_hang = on_hang;
  harness::set_adapter(a);
}

Outcome run_watched(Body& body, Expect expect, bool fatal, const char* statement, const char* file, int line) {
  static const bool installed = (install_adapter(), true);  // a program with its own main and no init()
  (void)installed;
  const char* macro = expect == Expect::blocking ? "EXPECT_BLOCKING" : fatal ? "ASSERT_NO_BLOCKING" : "EXPECT_NO_BLOCKING";
  harness::Verdict v = harness::watch_statement(body, expect == Expect::blocking, macro, statement, file, line);
  return Outcome(v.ok, std::move(v.file), v.line, std::move(v.message));
}

void run_test_body(Body& body, const char* suite, const char* name) {
  static const bool installed = (install_adapter(), true);
  (void)installed;
  harness::run_test_body(body, std::string(suite) + "." + name);
}

}  // namespace unclog::gtest_internal
