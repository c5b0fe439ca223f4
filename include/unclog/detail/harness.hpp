// The test harness every framework adapter shares (GoogleTest's in
// gtest_ext/, Catch2's in catch2_ext/, doctest's in doctest_ext/): the
// --unclog_* flags and UNCLOG_* variables, configuring the detector, where a
// report goes, the hang's JUnit file and the summary. It knows no test
// framework: an adapter tells it when tests start and end and gives it an
// Adapter to fail the running test with. Built into libunclog; adapters are
// compiled in the user's build against the user's framework, and use only
// this header and the public ones. Not for users' code: may change with
// any release.
//
// Thread-safety: every function may be called from any thread, except where
// a comment names the test's thread.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "unclog/watch.hpp"

namespace unclog::harness {

// ---- flags -----------------------------------------------------------------

enum class Mode { time, calls, all, off };

struct Flags {
  std::chrono::nanoseconds resolution = std::chrono::milliseconds(50);
  Mode mode = Mode::all;
  std::chrono::nanoseconds hang_timeout = std::chrono::seconds(20);
  std::string report;            // JSON lines file, "" for none
  std::string folded;            // folded stacks of blocked time, "" for none
  std::string trace;             // Chrome trace-event timeline, "" for none
  long trace_steps = 8192;       // ... steps kept per thread between writes
  bool report_preempted = false;
  std::vector<std::string> allow;  // call mode: functions whose calls are allowed
  bool file_io = false;            // call mode: report regular-file I/O
  bool std_streams = false;        // call mode: report writes to stdout/stderr
  bool syscalls = true;            // call mode: trap system calls too (where the kernel allows)
  bool github_annotations = false; // also print each report as a GitHub Actions ::error command
  bool loops = true;               // event loops' waits mark steps (unclog/loops.hpp)
  std::vector<std::string> loop_functions;  // the program's own loops' waiting functions
};

// "250us", "50ms", "2s", "1.5s", "100" (ms). nullopt for garbage, zero,
// negative or out-of-range values.
std::optional<std::chrono::nanoseconds> parse_duration(const std::string& text);
std::optional<Mode> parse_mode(const std::string& text);
std::optional<bool> parse_bool(const std::string& text);

// Applies the environment, then the command line (which wins). The
// --unclog_* entries of `args` are removed. Returns "" on success, else the
// one-line error to print. Pure: no side effects beyond `args` and `out`.
std::string parse_flags(std::vector<std::string>& args, const char* (*getenv_fn)(const char*), Flags& out);

// The flags' help, made from the same table the parser reads.
const char* flags_help() noexcept;

// What a framework's main does before its own parser sees argv: parses the
// environment and the --unclog_* arguments, removes them from argv (in
// place, keeping argv's strings) and configures. A bad value or an unusable
// UNCLOG_BACKEND prints the error and exits 2.
void init_from_args(int* argc, char** argv);

// Configures the detector and installs the routing. Exits 2 with a message
// when a report file cannot be opened.
void configure(const Flags& flags);
// Without our main: environment defaults, once.
void ensure_configured();
const Flags& active_flags();

// ---- the adapter -------------------------------------------------------------

struct Adapter {
  // Fails the running test, non-fatally, at file:line (nullptr: wherever the
  // framework places the test itself) with `message`. Called on the test's
  // thread, inside the test.
  void (*fail_at)(const char* file, int line, const std::string& message) = nullptr;
  // A hang ends the run: say which test hung where the framework says
  // results, and write its XML (write_junit). The process exits after.
  void (*on_hang)(const BlockingReport& report) = nullptr;
};
void set_adapter(const Adapter& adapter);

// Test boundaries, on the test's thread. `full_name` is what reports say
// ("Suite.Name", or a Catch2/doctest test case's name).
void test_started(const std::string& full_name);
// Reports raised on other threads during the test, and fibers left alive by
// hubs the test started elsewhere, become failures of the test now.
void test_ended();
std::string running_test();

// Tests finished so far, for the file written when a hang ends the run.
struct FinishedTest {
  std::string suite, name;
  double seconds = 0;
  bool skipped = false;
  std::vector<std::string> failures;
};
void record_finished(FinishedTest t);
std::vector<FinishedTest> finished_tests();

// The finished tests and the hung one (`suite`, `name`) as JUnit XML at
// `path`. Prints an error and returns false when it cannot be written.
bool write_junit(const std::string& path, const std::string& suite, const std::string& name,
                 const BlockingReport& hang);

// ---- watched statements and test bodies -------------------------------------

// A statement or a test body, called through a virtual function rather than
// std::function: its frames in a report then read as unclog's (not the
// user's) and name nothing of the standard library.
class Body {
 public:
  virtual ~Body() = default;
  virtual void run() = 0;
};
template <class F>
class BodyOf final : public Body {
 public:
  explicit BodyOf(F& f) : f_(f) {}
  void run() override { f_(); }

 private:
  F& f_;
};

// The verdict of a watched statement (EXPECT_NO_BLOCKING, CHECK_BLOCKING...):
// `body` runs as a hub's root fiber (or a fiber of the running hub, named
// `macro`); each report but the last fails the running test through the
// adapter; the macro fails where `file`/`line` say (the last report's
// place, else its own) with `message`, or not at all when `ok`. Reports of
// a statement expected to block do not count in the summary.
struct Verdict {
  bool ok;
  std::string file;
  int line;
  std::string message;
};
Verdict watch_statement(Body& body, bool expect_blocking, const char* macro, const char* statement, const char* file,
                        int line);
// A whole test body as a hub's root fiber named `name`: its reports fail
// the running test as any other.
void run_test_body(Body& body, const std::string& name);
// `s`, stored for the process's life: Catch2 and doctest keep a failure's
// file and expression as bare pointers until the run ends.
const char* intern(const std::string& s);

// ---- the end of the run --------------------------------------------------------

// "unclog: no blocking reports (resolution 50 ms)", the worst report, the
// loop libraries' own stalls, what could not be watched: the lines printed
// after the framework's own summary.
std::string summary_text();

}  // namespace unclog::harness
