// The blocking detector, usable with or without the hub.
//
// A *step* is one dispatch of an event loop: the hub marks its own; any other
// loop (Boost.Asio, libuv, hand-written epoll) marks its steps with
// StepGuard. One watchdog thread notices a step that runs past the
// resolution, samples the stack of the blocked thread from inside it, and,
// when the step ends, a BlockingReport goes to the sinks (stderr text by
// default, JSON lines, callbacks). A step still running at the hang timeout
// is reported by the watchdog itself, then the process exits non-zero.
//
// Thread-safety: every function here may be called from any thread.
// Sinks and hang handlers run on the thread that raised the report (the
// blocked thread once its step ended), or on the watchdog thread for hangs.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace unclog {

enum class StallKind {
  blocked,    // off-CPU, waiting in the kernel (sleep, blocking read, lock)
  cpu,        // on-CPU the whole time (a CPU hog)
  preempted,  // runnable but not running: the machine was busy; not reported unless asked
  call,       // call mode: a blocking call, however short
};
const char* to_string(StallKind kind) noexcept;

struct StackFrame {
  std::uintptr_t pc = 0;
  std::string function;  // demangled; "" when unknown
  std::string file;      // "" when there is no debug information
  int line = 0;
  bool inlined = false;  // an inlined level of the frame above it
  bool user = false;     // not unclog, the C/C++ runtime, Boost or GoogleTest
  std::string object;    // shared object, when there is no file
};

struct StackSample {
  std::chrono::nanoseconds offset{0};  // since the step was first seen running
  std::chrono::steady_clock::time_point captured_at;  // when the signal landed
  std::vector<StackFrame> frames;      // innermost first
};

struct BlockingReport {
  StallKind kind = StallKind::blocked;
  std::chrono::nanoseconds duration{0};  // wall time the step held the loop (at least)
  std::chrono::nanoseconds on_cpu{0};
  std::chrono::nanoseconds off_cpu{0};
  std::chrono::nanoseconds runqueue{0};  // runnable, waiting for a CPU
  std::chrono::nanoseconds resolution{0};
  bool hang = false;                     // reported by the watchdog at the hang timeout
  bool sched_stats = false;              // durations come from the scheduler's statistics
  bool timed = true;                     // durations measured (a call report may have none)
  unsigned calls = 0;                    // call mode: blocking calls the step made
  StallKind time_kind = StallKind::blocked;  // call mode: how the time went, when timed
  std::string fiber;                     // fiber name, StepGuard label, or Asio handler's operation
  std::string runner = "fiber";          // what ran the step: "fiber", "asio handler", "libuv loop", "step"
  std::string loop;                      // a loop step: the loop ("libuv loop"), else ""
  bool library = false;                  // a loop step's stall with no frame of the program's code
                                         // inside the loop: the loop's own machinery (unclog/loops.hpp)
  pid_t thread = 0;
  std::string test;                      // "Suite.Name" under GoogleTest
  std::string kernel_wait;               // blocked: the kernel function it waited in ("" unknown)
  std::string call;                      // call mode: what was called
  std::string hint;                      // the remedy: what to call instead ("" if none)
  std::string function;                  // the blocking function
  std::string user_function;             // first frame in the user's code
  std::string file;                      // ... its file and line ("" if none)
  int line = 0;
  std::vector<StackSample> samples;      // first is where the stall started

  std::string text() const;  // the short report a person reads
  std::string json() const;  // one line, no newline
};

// --- configuration (process-wide; hubs read it when they are created) ---

// Eventlet's switch: turns detection on or off for hubs created afterwards
// (and StepGuards entered afterwards), reports to stderr. The program goes on.
void hub_blocking_detection(bool on, std::chrono::nanoseconds resolution = std::chrono::seconds(1));
bool hub_blocking_detection_enabled() noexcept;

void set_resolution(std::chrono::nanoseconds resolution);
std::chrono::nanoseconds resolution() noexcept;
// A step running this long is a hang (0 = never). Default 0; the gtest main sets 20 s.
void set_hang_timeout(std::chrono::nanoseconds timeout);
std::chrono::nanoseconds hang_timeout() noexcept;
// Also report steps that were slow only because the machine was busy.
void set_report_preempted(bool on) noexcept;
// Report steps that hold the loop past the resolution (default on).
void set_time_detection(bool on) noexcept;

// --- call mode: blocking calls, however short ---
//
// While a watched step runs, a libc call that can block (sleeps, waits,
// joins, resolver calls, fsync, a contended pthread mutex, read/write/
// recv/send/accept/connect on a blocking socket, pipe or terminal, poll and
// friends with a timeout) raises a report of kind `call` where it was made.
// Writes to stdout/stderr and regular-file I/O are allowed unless turned on
// below: logging and test output go there, and a warm disk rarely stalls.
void set_call_detection(bool on) noexcept;  // default off; the gtest main turns it on
void set_file_io_reports(bool on) noexcept;
void set_std_stream_reports(bool on) noexcept;
// Call mode also traps the system calls of watched steps (Syscall User
// Dispatch, Linux 5.11+ on x86-64), so blocking inside libc (fread on a
// pipe, a contended rwlock), raw syscall()s and libraries that make their
// own system calls are caught too. Default on; where the kernel, a seccomp
// policy, valgrind, ThreadSanitizer or a debugger or tracer rules it out
// (checked at run time, a tracer also after start), call mode goes on with
// the interposed libc functions alone and says so once.
void set_syscall_detection(bool on) noexcept;
bool syscall_detection_enabled() noexcept;
// A call is allowed when a function whose name contains one of these is on
// its stack (GoogleTest's own functions and the dynamic loader always are).
void set_allowed_blocking_functions(std::vector<std::string> names);

// --- sinks ---

using ReportSink = std::function<void(const BlockingReport&)>;
int add_report_sink(ReportSink sink);  // returns an id for remove_report_sink
void remove_report_sink(int id);
// The stderr text sink (on by default). Repeated reports from one place are
// rate-limited; the number suppressed is printed with the next one and at exit.
void set_stderr_reports(bool on) noexcept;
// Appends one JSON line per report to `path` ("" closes). Returns false and
// fills *error when the file cannot be opened.
bool set_json_report_file(const std::string& path, std::string* error = nullptr);
// Writes every report's stack to `path` in the folded format of flame graph
// tools (`outer;...;inner microseconds`), summed by stack over the run and
// kept complete on disk after each report ("" stops). Returns false and
// fills *error when the file cannot be written.
bool set_folded_file(const std::string& path, std::string* error = nullptr);
// Writes a timeline to `path` in the Chrome trace-event JSON format
// (Perfetto's UI, chrome://tracing): a track per fiber with its steps, the
// hubs' waits for I/O, the tests' spans, and each report as a slice. Steps
// are timed only while tracing, kept in a ring of the last `ring_steps` per
// thread, and written when a report is raised, a hub ends or a test ends;
// the file is valid JSON after each write ("" stops). Affects hubs started
// afterwards.
bool set_trace_file(const std::string& path, std::size_t ring_steps = 8192, std::string* error = nullptr);
// Runs on the watchdog thread when a hang is detected, after the sinks and
// before the process exits (used to write the gtest XML). Keep it short.
void set_hang_handler(std::function<void(const BlockingReport&)> handler);

// Where unclog watches less than asked, and why ("system calls are not
// trapped (valgrind ...)"), in the order they were first said on stderr.
// The gtest main prints them with its summary.
std::vector<std::string> watch_limitations();

// Reports raised on the calling thread so far. A loop step that ended in a
// condition wait (an Asio pool's idle thread) may be judged on a thread of
// unclog's and counts there.
std::uint64_t blocking_report_count() noexcept;

// --- scopes ---

// Marks one step of a loop that is not the hub (bring your own loop; a
// loop whose wait can be marked is better served by unclog::LoopWait,
// unclog/loops.hpp). Nested
// guards, or a guard inside a hub step, are part of the enclosing step. The
// report, if any, is raised in the destructor.
class StepGuard {
 public:
  explicit StepGuard(const char* label = "step") noexcept;
  ~StepGuard();
  StepGuard(const StepGuard&) = delete;
  StepGuard& operator=(const StepGuard&) = delete;

 private:
  void* slot_ = nullptr;
  std::int64_t began_ns_ = 0;  // while tracing
};

// No blocking report is raised on this thread while one is alive (the
// watchdog does not even signal it, call mode does not look); the hang
// timeout still applies.
class AllowBlocking {
 public:
  explicit AllowBlocking(const char* reason) noexcept;
  ~AllowBlocking();
  AllowBlocking(const AllowBlocking&) = delete;
  AllowBlocking& operator=(const AllowBlocking&) = delete;

 private:
  const char* previous_reason_;
};

}  // namespace unclog
