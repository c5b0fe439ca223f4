// The --unclog_* flags and their UNCLOG_* environment defaults.
// Parsing is pure (no side effects) so that every bad value can be tested.
#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace unclog::gtest_internal {

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

// "250us", "50ms", "2s", "1.5s", "100" (ms). Returns nullopt for garbage,
// zero, negative or out-of-range values.
std::optional<std::chrono::nanoseconds> parse_duration(const std::string& text);
std::optional<Mode> parse_mode(const std::string& text);
std::optional<bool> parse_bool(const std::string& text);

// Applies the environment, then the command line (which wins). `args` are
// the arguments left after InitGoogleTest; the --unclog_* ones are removed.
// Returns "" on success, else the one-line error to print.
std::string parse_flags(std::vector<std::string>& args, const char* (*getenv_fn)(const char*), Flags& out);

}  // namespace unclog::gtest_internal
