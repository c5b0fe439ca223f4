// Catch2's side of the harness (unclog/detail/harness.hpp): a listener for
// test case boundaries, failures through Catch's AssertionHandler, the
// hang's line and JUnit file, and the runtime of the macros in
// unclog/catch2.hpp. Compiled against the user's Catch2 (v2.13).
#define CATCH_CONFIG_EXTERNAL_INTERFACES
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>

#include "unclog/catch2.hpp"
#include "unclog/detail/harness.hpp"

namespace unclog::catch2_internal {
namespace {

struct Output {
  std::mutex mu;
  std::string reporter, file;
  Catch::SourceLineInfo test_case{"", 0};  // where the running test case is defined
  std::string executable;
};
Output& output() {
  static Output* o = new Output;  // reached from the watchdog at exit: never destroyed
  return *o;
}

void fail_at(const char* file, int line, const std::string& message) {
  Catch::SourceLineInfo where = output().test_case;
  if (file) where = Catch::SourceLineInfo(harness::intern(file), static_cast<std::size_t>(line));
  Catch::AssertionHandler handler("unclog", where, Catch::StringRef(), Catch::ResultDisposition::ContinueOnFailure);
  handler.handleMessage(Catch::ResultWas::ExplicitFailure, message);
  handler.complete();
}

void on_hang(const BlockingReport& r) {
  const std::string hung = harness::running_test();
  std::fprintf(stdout, "unclog: test case \"%s\" hung: the run ends here\n", hung.c_str());
  std::fflush(stdout);
  std::string reporter, file, exe;
  {
    std::lock_guard lk(output().mu);
    reporter = output().reporter;
    file = output().file;
    exe = output().executable;
  }
  if (reporter == "junit" && !file.empty()) harness::write_junit(file, exe, hung, r);
}

void install_adapter() {
  static std::once_flag once;
  std::call_once(once, [] {
    harness::Adapter a;
    a.fail_at = fail_at;
    a.on_hang = on_hang;
    harness::set_adapter(a);
  });
}

std::string executable_name() {
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  const std::string path = n > 0 ? std::string(exe, static_cast<std::size_t>(n)) : "tests";
  return path.substr(path.rfind('/') + 1);
}

// Test case boundaries and the failures each one had, for the hang's file.
class Listener : public Catch::TestEventListenerBase {
 public:
  using TestEventListenerBase::TestEventListenerBase;

  void testCaseStarting(Catch::TestCaseInfo const& info) override {
    install_adapter();
    {
      std::lock_guard lk(output().mu);
      output().test_case = Catch::SourceLineInfo(harness::intern(info.lineInfo.file), info.lineInfo.line);
      if (output().executable.empty()) output().executable = executable_name();
    }
    failures_.clear();
    harness::test_started(info.name);
  }

  bool assertionEnded(Catch::AssertionStats const& stats) override {
    const Catch::AssertionResult& r = stats.assertionResult;
    if (!r.isOk()) {
      failures_.push_back(std::string(r.getSourceInfo().file) + ":" + std::to_string(r.getSourceInfo().line) + "\n" +
                          (r.hasMessage() ? r.getMessage() : r.getExpressionInMacro()));
    }
    return true;
  }

  void testCaseEnded(Catch::TestCaseStats const& stats) override {
    harness::test_ended();
    harness::FinishedTest t;
    {
      std::lock_guard lk(output().mu);
      t.suite = output().executable;
    }
    t.name = stats.testInfo.name;
    t.failures = failures_;
    harness::record_finished(std::move(t));
  }

  void testRunEnded(Catch::TestRunStats const&) override {
    std::printf("%s", harness::summary_text().c_str());
    std::fflush(stdout);
  }

 private:
  std::vector<std::string> failures_;
};

}  // namespace

harness::Verdict run_watched(Body& body, bool expect_blocking, const char* macro, const char* statement,
                             const char* file, int line) {
  install_adapter();
  return harness::watch_statement(body, expect_blocking, macro, statement, file, line);
}

void run_test_body(Body& body) {
  install_adapter();
  harness::run_test_body(body, harness::running_test());
}

}  // namespace unclog::catch2_internal

using UnclogCatch2Listener = unclog::catch2_internal::Listener;
CATCH_REGISTER_LISTENER(UnclogCatch2Listener)

namespace unclog::catch2 {

void init(int* argc, char** argv) {
  for (int i = 1; i < *argc; ++i) {
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h") || !std::strcmp(argv[i], "-?")) {
      std::atexit([] { std::printf("%s", harness::flags_help()); });  // after Catch's own help
      break;
    }
  }
  harness::init_from_args(argc, argv);
  catch2_internal::install_adapter();
}

void set_output(const std::string& reporter, const std::string& file) {
  std::lock_guard lk(catch2_internal::output().mu);
  catch2_internal::output().reporter = reporter;
  catch2_internal::output().file = file;
}

}  // namespace unclog::catch2
