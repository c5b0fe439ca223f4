// What unclog's GoogleTest glue needs of libunclog. The glue (listener,
// flags, macros' runtime, main, hang XML) is compiled in the user's build,
// against the user's GoogleTest (CMake's unclog::gtest attaches its sources
// to the test target), so it may only use what is declared here and in the
// public headers. Not for users' code: may change with any release.
//
// Thread-safety: every function may be called from any thread.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace unclog::gtest_support {

// "" when UNCLOG_BACKEND is unset or valid, else the one-line error.
std::string backend_env_error();
// "58 ms", "2.5 ms": as reports print durations.
std::string format_ms(std::chrono::nanoseconds d);

// Hubs started from now on have a generation >= this; fibers of those hubs
// still alive, by name (a test that leaves fibers running on another thread).
std::uint64_t hub_generation() noexcept;
std::vector<std::string> live_fibers_since(std::uint64_t generation);

// The running test's name, for reports raised on any thread (stored as a
// bare pointer: keep the string alive and unmoved for the process's life).
void set_current_test(const char* name) noexcept;
// Before a test ends or an EXPECT_*BLOCKING begins on this thread: a loop
// step whose loop has returned is ended and reported now.
void settle_this_thread() noexcept;

// The timeline (--unclog_trace): whether it is being written, its clock,
// a test's span, and writing out the calling thread's events.
bool tracing() noexcept;
std::int64_t trace_now_ns() noexcept;
void trace_test(const std::string& name, std::int64_t begin_ns, std::int64_t end_ns) noexcept;
void trace_flush_thread() noexcept;

}  // namespace unclog::gtest_support
