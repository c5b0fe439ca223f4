// doctest's side of the harness (unclog/detail/harness.hpp): a listener for
// test case boundaries, failures as failed assertions (its JUnit reporter
// drops messages), the
// hang's line and JUnit file, and the runtime of the macros in
// unclog/doctest.hpp. Compiled against the user's doctest (2.4).
//
// doctest's macros name `doctest::` unqualified, which inside namespace
// unclog would find unclog::doctest: they are used at global scope only.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "unclog/detail/harness.hpp"
#include "unclog/doctest.hpp"

namespace {

struct Output {
  std::mutex mu;
  std::string reporters, file;
  std::string test_file;  // where the running test case is defined
  int test_line = 0;
  std::string executable;
};
Output& output() {
  static Output* o = new Output;  // reached from the watchdog at exit: never destroyed
  return *o;
}

void fail_assert(const char* file, int line, const char* expression, const std::string& message, bool require) {
  ::doctest::detail::ResultBuilder rb(require ? ::doctest::assertType::DT_REQUIRE : ::doctest::assertType::DT_CHECK,
                                      unclog::harness::intern(file), line,
                                      unclog::harness::intern(expression));
  rb.m_failed = true;
  rb.m_decomp = message.c_str();
  if (rb.log()) DOCTEST_BREAK_INTO_DEBUGGER();
  rb.react();  // REQUIRE: ends the test case
}

void fail_at(const char* file, int line, const std::string& message) {
  std::string where;
  if (!file) {
    std::lock_guard lk(output().mu);
    where = output().test_file;
    line = output().test_line;
  }
  fail_assert(file ? file : where.c_str(), line, "unclog", message, false);
}

void on_hang(const unclog::BlockingReport& r) {
  const std::string hung = unclog::harness::running_test();
  std::fprintf(stdout, "unclog: test case \"%s\" hung: the run ends here\n", hung.c_str());
  std::fflush(stdout);
  std::string reporters, file, exe;
  {
    std::lock_guard lk(output().mu);
    reporters = output().reporters;
    file = output().file;
    exe = output().executable;
  }
  if (reporters.find("junit") != std::string::npos && !file.empty()) unclog::harness::write_junit(file, exe, hung, r);
}

void install_adapter() {
  static std::once_flag once;
  std::call_once(once, [] {
    unclog::harness::Adapter a;
    a.fail_at = fail_at;
    a.on_hang = on_hang;
    unclog::harness::set_adapter(a);
  });
}

std::string executable_name() {
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  const std::string path = n > 0 ? std::string(exe, static_cast<std::size_t>(n)) : "tests";
  return path.substr(path.rfind('/') + 1);
}

// Test case boundaries and the failures of each, for the hang's file. A
// test case with subcases is entered again per subcase: one test for us.
struct Listener : ::doctest::IReporter {
  explicit Listener(const ::doctest::ContextOptions&) {}

  void report_query(const ::doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const ::doctest::TestRunStats&) override {
    std::printf("%s", unclog::harness::summary_text().c_str());
    std::fflush(stdout);
  }
  void test_case_start(const ::doctest::TestCaseData& tc) override {
    install_adapter();
    {
      std::lock_guard lk(output().mu);
      output().test_file = tc.m_file.c_str();
      output().test_line = static_cast<int>(tc.m_line);
      if (output().executable.empty()) output().executable = executable_name();
    }
    failures_.clear();
    unclog::harness::test_started(tc.m_name);
  }
  void test_case_reenter(const ::doctest::TestCaseData&) override {}
  void test_case_end(const ::doctest::CurrentTestCaseStats&) override {
    unclog::harness::test_ended();
    unclog::harness::FinishedTest t;
    {
      std::lock_guard lk(output().mu);
      t.suite = output().executable;
    }
    t.name = unclog::harness::running_test();
    t.failures = failures_;
    unclog::harness::record_finished(std::move(t));
  }
  void test_case_exception(const ::doctest::TestCaseException& e) override {
    failures_.push_back(std::string("exception: ") + e.error_string.c_str());
  }
  void subcase_start(const ::doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const ::doctest::AssertData& ad) override {
    if (ad.m_failed) {
      failures_.push_back(std::string(ad.m_file) + ":" + std::to_string(ad.m_line) + "\n" + ad.m_expr);
    }
  }
  void log_message(const ::doctest::MessageData& md) override {
    if (md.m_severity & ::doctest::assertType::is_warn) return;
    failures_.push_back(std::string(md.m_file) + ":" + std::to_string(md.m_line) + "\n" + md.m_string.c_str());
  }
  void test_case_skipped(const ::doctest::TestCaseData&) override {}

  std::vector<std::string> failures_;
};

// "--reporters=junit", "-r=junit", "--dt-reporters=junit": doctest's forms.
bool option_value(const char* arg, const char* long_name, const char* short_name, std::string* out) {
  for (const char* prefix : {"--", "-", "--dt-", "-dt-"}) {
    for (const char* name : {long_name, short_name}) {
      const std::string head = std::string(prefix) + name + "=";
      if (std::strncmp(arg, head.c_str(), head.size()) == 0) {
        *out = arg + head.size();
        return true;
      }
    }
  }
  return false;
}

}  // namespace

DOCTEST_REGISTER_LISTENER("unclog", 1, Listener);

namespace unclog::doctest_internal {

harness::Verdict run_watched(harness::Body& body, bool expect_blocking, const char* macro, const char* statement,
                             const char* file, int line) {
  install_adapter();
  return harness::watch_statement(body, expect_blocking, macro, statement, file, line);
}

void fail(const char* file, int line, const char* expression, const std::string& message, bool require) {
  fail_assert(file, line, expression, message, require);
}

void run_test_body(harness::Body& body) {
  install_adapter();
  harness::run_test_body(body, harness::running_test());
}

}  // namespace unclog::doctest_internal

namespace unclog::doctest {

void init(int* argc, char** argv) {
  for (int i = 1; i < *argc; ++i) {
    std::string value;
    if (option_value(argv[i], "reporters", "r", &value)) {
      std::lock_guard lk(output().mu);
      output().reporters = value;
    } else if (option_value(argv[i], "out", "o", &value)) {
      std::lock_guard lk(output().mu);
      output().file = value;
    } else if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h") || !std::strcmp(argv[i], "-?")) {
      std::atexit([] { std::printf("%s", harness::flags_help()); });  // after doctest's own help
    }
  }
  harness::init_from_args(argc, argv);
  install_adapter();
}

}  // namespace unclog::doctest
