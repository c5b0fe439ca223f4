#include "routing.hpp"

#include <atomic>
#include <deque>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <set>
#include <thread>

#include "annotations.hpp"
#include "hang_xml.hpp"
#include "unclog/detail/gtest_support.hpp"
#include "unclog/gtest.hpp"

namespace unclog::gtest_internal {
namespace {

struct Scope {
  Expect expect;
  std::vector<BlockingReport> reports;
  Scope* outer;
};
thread_local Scope* t_scope = nullptr;

struct State {
  std::mutex mu;
  Flags flags;
  bool configured = false;
  int sink_id = 0;
  std::thread::id test_thread;
  bool in_test = false;
  std::string test_name;
  std::deque<std::string> published_names;  // see test_started
  std::uint64_t hub_generation = 0;  // hubs started from here on belong to the test
  std::vector<BlockingReport> queued;  // raised on other threads during the test
  Summary summary;
  std::set<std::string> tests_with_reports;
  std::vector<FinishedTest> finished;
};

State& state() {
  static State* s = new State;  // reached from the watchdog at exit: never destroyed
  return *s;
}

void count(const BlockingReport& r) {
  State& s = state();
  std::lock_guard lk(s.mu);
  ++s.summary.reports;
  if (!r.test.empty() && s.tests_with_reports.insert(r.test).second) ++s.summary.tests;
  if (!s.summary.have_worst || r.duration > s.summary.worst.duration) {
    s.summary.worst = r;
    s.summary.have_worst = true;
  }
}

void on_report(const BlockingReport& r) {
  if (r.library) {
    // A loop library's own machinery stalled, with none of the program's
    // code inside the loop: said, counted, not a test failure.
    {
      std::lock_guard lk(state().mu);
      ++state().summary.library_stalls;
    }
    std::fprintf(stderr, "unclog: not a test failure: %s\n", r.text().c_str());
    return;
  }
  if (state().flags.github_annotations) print_github_annotation(r);
  if (t_scope) {
    if (t_scope->expect == Expect::no_blocking) count(r);
    t_scope->reports.push_back(r);
    return;
  }
  count(r);
  State& s = state();
  std::unique_lock lk(s.mu);
  if (s.in_test && !r.hang) {
    if (std::this_thread::get_id() == s.test_thread) {
      lk.unlock();
      add_failure(r);
    } else {
      s.queued.push_back(r);
    }
    return;
  }
  lk.unlock();
  if (!r.hang) std::fprintf(stderr, "%s\n", r.text().c_str());
}

void on_hang(const BlockingReport& r) {
  std::fprintf(stdout, "[  FAILED  ] %s (hang)\n", running_test().c_str());
  std::fflush(stdout);
  write_hang_xml(r);
}

class ScopeGuard {
 public:
  explicit ScopeGuard(Scope& s) : s_(s) {
    s.outer = t_scope;
    t_scope = &s;
  }
  ~ScopeGuard() { t_scope = s_.outer; }

 private:
  Scope& s_;
};

std::string ms(std::chrono::nanoseconds d) { return std::to_string(d.count() / 1000000) + " ms"; }

}  // namespace

void configure(const Flags& flags) {
  State& s = state();
  {
    std::lock_guard lk(s.mu);
    s.flags = flags;
    s.configured = true;
  }
  const bool time = flags.mode == Mode::time || flags.mode == Mode::all;
  const bool calls = flags.mode == Mode::calls || flags.mode == Mode::all;
  hub_blocking_detection(flags.mode != Mode::off, flags.resolution);
  set_time_detection(time);
  set_call_detection(calls);
  set_file_io_reports(flags.file_io);
  set_std_stream_reports(flags.std_streams);
  set_syscall_detection(flags.syscalls);
  set_allowed_blocking_functions(flags.allow);
  set_loop_steps(flags.loops && flags.mode != Mode::off);
  set_loop_functions(flags.loop_functions);
  set_resolution(flags.resolution);
  set_hang_timeout(flags.hang_timeout);
  set_report_preempted(flags.report_preempted);
  set_stderr_reports(false);  // the failures carry the reports
  if (!flags.report.empty()) {
    std::string error;
    if (!set_json_report_file(flags.report, &error)) {
      std::fprintf(stderr, "unclog: --unclog_report: %s\n", error.c_str());
      std::exit(2);
    }
  }
  if (!flags.trace.empty()) {
    std::string error;
    if (!set_trace_file(flags.trace, static_cast<std::size_t>(flags.trace_steps), &error)) {
      std::fprintf(stderr, "unclog: --unclog_trace: %s\n", error.c_str());
      std::exit(2);
    }
  }
  if (!flags.folded.empty()) {
    std::string error;
    if (!set_folded_file(flags.folded, &error)) {
      std::fprintf(stderr, "unclog: --unclog_folded: %s\n", error.c_str());
      std::exit(2);
    }
  }
  std::lock_guard lk(s.mu);
  if (!s.sink_id) s.sink_id = add_report_sink(on_report);
  set_hang_handler(on_hang);
}

void ensure_configured() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (state().configured) return;
    Flags flags;
    std::vector<std::string> none;
    std::string err = parse_flags(none, [](const char* n) -> const char* { return std::getenv(n); }, flags);
    if (!err.empty()) {
      std::fprintf(stderr, "%s\n", err.c_str());
      std::exit(2);
    }
    configure(flags);
  });
}

const Flags& active_flags() { return state().flags; }

void add_failure(const BlockingReport& r) {
  // A report with no frame of the user's code (no stack was sampled, or none
  // with debug information) fails at the running test's definition rather
  // than at "unknown file", which CI annotations cannot place.
  const char* file = r.file.empty() ? nullptr : r.file.c_str();
  int line = r.file.empty() ? -1 : r.line;
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  if (!file && info && info->file()) {
    file = info->file();
    line = info->line();
  }
  ::testing::internal::AssertHelper(::testing::TestPartResult::kNonFatalFailure, file, line, r.text().c_str()) =
      ::testing::Message();
}

void test_started(const std::string& full_name) {
  State& s = state();
  std::lock_guard lk(s.mu);
  s.test_thread = std::this_thread::get_id();
  s.in_test = true;
  s.test_name = full_name;
  s.hub_generation = gtest_support::hub_generation();
  // Reports on other threads read the name through a bare pointer at any
  // time: each name gets storage that is never freed or moved.
  s.published_names.push_back(full_name);
  gtest_support::set_current_test(s.published_names.back().c_str());
}

void test_ended() {
  gtest_support::settle_this_thread();  // the test body's loop step, if its loop returned
  State& s = state();
  std::vector<BlockingReport> queued;
  {
    std::lock_guard lk(s.mu);
    queued.swap(s.queued);
  }
  for (const auto& r : queued) add_failure(r);  // still counts for this test and its XML
  std::uint64_t generation;
  {
    std::lock_guard lk(s.mu);
    generation = s.hub_generation;
  }
  const std::vector<std::string> alive = gtest_support::live_fibers_since(generation);
  if (!alive.empty()) {
    std::string names;
    for (std::size_t i = 0; i < alive.size() && i < 10; ++i) names += (i ? ", \"" : "\"") + alive[i] + "\"";
    if (alive.size() > 10) names += ", ...";
    ::testing::internal::AssertHelper(::testing::TestPartResult::kNonFatalFailure, nullptr, -1,
                                      ("unclog: " + std::to_string(alive.size()) +
                                       " fiber(s) still alive when the test ended, in a hub it started on another "
                                       "thread: " + names).c_str()) = ::testing::Message();
  }
  std::lock_guard lk(s.mu);
  s.in_test = false;
  gtest_support::set_current_test(nullptr);
}

Summary summary() {
  std::lock_guard lk(state().mu);
  return state().summary;
}

void record_finished(FinishedTest t) {
  std::lock_guard lk(state().mu);
  state().finished.push_back(std::move(t));
}

std::vector<FinishedTest> finished_tests() {
  std::lock_guard lk(state().mu);
  return state().finished;
}

std::string running_test() {
  std::lock_guard lk(state().mu);
  return state().in_test ? state().test_name : std::string();
}

Outcome run_watched(Body& body, Expect expect, bool fatal, const char* statement, const char* file, int line) {
  ensure_configured();
  const char* macro = expect == Expect::blocking ? "EXPECT_BLOCKING" : fatal ? "ASSERT_NO_BLOCKING" : "EXPECT_NO_BLOCKING";
  gtest_support::settle_this_thread();  // what a loop step before the macro did is not the statement's
  Scope scope{expect, {}, nullptr};
  {
    ScopeGuard guard(scope);
    SpawnOptions options;  // (C++17: the glue is compiled in the user's build)
    if (in_fiber()) {
      options.name = macro;
      unclog::spawn(options, [&] { body.run(); }).join();
    } else {
      options.name = running_test().empty() ? "main" : running_test();
      unclog::run([&] { body.run(); }, options);
    }
  }
  auto& reports = scope.reports;
  if (expect == Expect::no_blocking) {
    if (reports.empty()) return Outcome(true, file, line, "");
    for (std::size_t i = 0; i + 1 < reports.size(); ++i) add_failure(reports[i]);
    const BlockingReport& last = reports.back();
    const bool here = last.file.empty();
    return Outcome(false, here ? file : last.file, here ? line : last.line,
                   last.text() + "\n  (in " + macro + "(" + statement + "))");
  }
  if (!reports.empty()) return Outcome(true, file, line, "");
  if (!hub_blocking_detection_enabled()) {
    return Outcome(false, file, line,
                   std::string(macro) + "(" + statement + "): the detector is off (--unclog_mode=off)");
  }
  return Outcome(false, file, line,
                 std::string("Expected: ") + statement +
                     " blocks the loop (a step over the resolution, " + ms(resolution()) +
                     ", or a blocking call)\n  Actual: no step blocked");
}

void run_test_body(Body& body, const char* suite, const char* name) {
  ensure_configured();
  SpawnOptions options;
  options.name = std::string(suite) + "." + name;
  unclog::run([&] { body.run(); }, options);
}

}  // namespace unclog::gtest_internal
