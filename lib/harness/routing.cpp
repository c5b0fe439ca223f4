// Where a report goes: into the innermost watched statement on this thread,
// else a failure of the running test (now on its own thread, at its end
// from others), else stderr. And the rest of the harness's state: the
// running test, the finished ones, the summary.
#include <atomic>
#include <deque>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <set>
#include <thread>

#include "annotations.hpp"
#include "hub/hub.hpp"
#include "loops/entry_hooks.hpp"
#include "unclog/detail/harness.hpp"
#include "unclog/unclog.hpp"
#include "watch/deferred_steps.hpp"
#include "watch/format.hpp"
#include "watch/sinks.hpp"
#include "watch/trace.hpp"
#include "watch/watch_internal.hpp"
#include "base/tsan_sync.hpp"

namespace unclog::harness {
namespace {

struct Scope {
  std::vector<BlockingReport> reports;
  Scope* outer;
};
thread_local Scope* t_scope = nullptr;

struct Summary {
  std::uint64_t reports = 0;
  std::uint64_t tests = 0;
  std::uint64_t library_stalls = 0;  // loop libraries' own stalls: not failures
  bool have_worst = false;
  BlockingReport worst;
};

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
  std::int64_t test_began_ns = 0;    // for the test's span on the timeline (--unclog_trace)
  std::vector<BlockingReport> queued;  // raised on other threads during the test
  Summary summary;
  std::set<std::string> tests_with_reports;
  std::vector<FinishedTest> finished;
  Adapter adapter;
};

State& state() {
  return detail::made_once<State>();  // reached from the watchdog at exit: never destroyed
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

// The failure of the running test, on its thread.
void fail(const char* file, int line, const std::string& message) {
  Adapter a;
  {
    std::lock_guard lk(state().mu);
    a = state().adapter;
  }
  if (a.fail_at) a.fail_at(file, line, message);
  else std::fprintf(stderr, "%s\n", message.c_str());
}

void add_failure(const BlockingReport& r) {
  // A report with no frame of the user's code fails where the framework
  // places the test rather than at "unknown file", which CI cannot place.
  fail(r.file.empty() ? nullptr : r.file.c_str(), r.file.empty() ? -1 : r.line, r.text());
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
    t_scope->reports.push_back(r);  // counted by the macro if it fails for it (count_report)
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
  Adapter a;
  {
    std::lock_guard lk(state().mu);
    a = state().adapter;
  }
  if (a.on_hang) {
    a.on_hang(r);
  } else {
    std::fprintf(stdout, "unclog: hang in %s\n", running_test().c_str());
    std::fflush(stdout);
  }
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

void set_adapter(const Adapter& adapter) {
  std::lock_guard lk(state().mu);
  state().adapter = adapter;
}

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

void test_started(const std::string& full_name) {
  State& s = state();
  std::lock_guard lk(s.mu);
  s.test_thread = std::this_thread::get_id();
  s.in_test = true;
  s.test_name = full_name;
  s.hub_generation = detail::hub_generation();
  // Reports on other threads read the name through a bare pointer at any
  // time: each name gets storage that is never freed or moved.
  s.published_names.push_back(full_name);
  watch::set_current_test(s.published_names.back().c_str());
  s.test_began_ns = watch::trace::on() ? watch::trace::now_ns() : 0;
  loops::refresh_entry_hooks();  // a library loaded since: its loop calls are watched from their first pass
}

void test_ended() {
  watch::settle_this_thread();  // the test body's loop step, if its loop returned
  watch::wait_for_deferred_steps();  // steps of the test judged on our thread
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
  const std::vector<std::string> alive = detail::live_fibers_since(generation);
  if (!alive.empty()) {
    std::string names;
    for (std::size_t i = 0; i < alive.size() && i < 10; ++i) names += (i ? ", \"" : "\"") + alive[i] + "\"";
    if (alive.size() > 10) names += ", ...";
    fail(nullptr, -1,
         "unclog: " + std::to_string(alive.size()) +
             " fiber(s) still alive when the test ended, in a hub it started on another thread: " + names);
  }
  std::string name;
  std::int64_t began_ns;
  {
    std::lock_guard lk(s.mu);
    s.in_test = false;
    watch::set_current_test(nullptr);
    name = s.test_name;
    began_ns = s.test_began_ns;
  }
  if (watch::trace::on()) {
    watch::trace::record_test(name, began_ns, watch::trace::now_ns());
    watch::trace::flush_thread();
  }
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

namespace {

std::vector<BlockingReport> run_watched(Body& body, const char* macro, bool expect_blocking) {
  ensure_configured();
  watch::settle_this_thread();  // what a loop step before the macro did is not the statement's
  Scope scope{{}, nullptr};
  {
    ScopeGuard guard(scope);
    SpawnOptions options;
    if (in_fiber()) {
      options.name = macro;
      unclog::spawn(options, [&] { body.run(); }).join();
    } else {
      options.name = running_test().empty() ? "main" : running_test();
      unclog::run([&] { body.run(); }, options);
    }
  }
  // Reports a statement was expected to make are no failures: not counted.
  if (!expect_blocking) {
    for (const BlockingReport& r : scope.reports) count(r);
  }
  return std::move(scope.reports);
}

std::string not_blocked_message(const char* statement, const char* macro) {
  if (!hub_blocking_detection_enabled()) {
    return std::string(macro) + "(" + statement + "): the detector is off (--unclog_mode=off)";
  }
  return std::string("Expected: ") + statement + " blocks the loop (a step over the resolution, " +
         ms(resolution()) + ", or a blocking call)\n  Actual: no step blocked";
}

}  // namespace

Verdict watch_statement(Body& body, bool expect_blocking, const char* macro, const char* statement, const char* file,
                        int line) {
  const std::vector<BlockingReport> reports = run_watched(body, macro, expect_blocking);
  if (expect_blocking) {
    if (!reports.empty()) return {true, file, line, ""};
    return {false, file, line, not_blocked_message(statement, macro)};
  }
  if (reports.empty()) return {true, file, line, ""};
  for (std::size_t i = 0; i + 1 < reports.size(); ++i) add_failure(reports[i]);
  const BlockingReport& last = reports.back();
  const bool here = last.file.empty();
  return {false, here ? file : last.file, here ? line : last.line,
          last.text() + "\n  (in " + macro + "(" + statement + "))"};
}

const char* intern(const std::string& s) {
  static std::mutex mu;
  static auto* kept = new std::set<std::string>;  // never freed: failures point into it
  std::lock_guard lk(mu);
  return kept->insert(s).first->c_str();
}

void run_test_body(Body& body, const std::string& name) {
  ensure_configured();
  SpawnOptions options;
  options.name = name;
  unclog::run([&] { body.run(); }, options);
}

std::string summary_text() {
  using watch::format_ms;
  watch::wait_for_deferred_steps();
  const Summary s = [] {
    std::lock_guard lk(state().mu);
    return state().summary;
  }();
  std::string out;
  if (!hub_blocking_detection_enabled()) {
    out += "unclog: detection off\n";
  } else if (s.reports == 0) {
    out += "unclog: no blocking reports (resolution " + format_ms(resolution()) + ")\n";
  } else {
    const BlockingReport& w = s.worst;
    const std::string where = w.file.empty() ? "" : " at " + w.file + ":" + std::to_string(w.line);
    // An untimed call report has no duration worth printing: name the call.
    const std::string worst = w.timed ? format_ms(w.duration) + " " + to_string(w.kind) : "call " + w.call;
    out += "unclog: " + std::to_string(s.reports) + " blocking report" + (s.reports == 1 ? "" : "s") + " in " +
           std::to_string(s.tests) + " test" + (s.tests == 1 ? "" : "s") + "; worst " + worst + " in " +
           (w.test.empty() ? "(no test)" : w.test) + where + "\n";
  }
  if (s.library_stalls) {
    out += "unclog: " + std::to_string(s.library_stalls) + " stall" + (s.library_stalls == 1 ? "" : "s") +
           " of loop libraries' own work (no code of the tests inside the loop; printed on stderr, not failures)\n";
  }
  // Where unclog could not watch everything it was asked to (said once on
  // stderr when it happened): repeated beside the verdict it qualifies.
  for (const std::string& limit : watch_limitations()) out += "unclog: watched less: " + limit + "\n";
  return out;
}

}  // namespace unclog::harness
