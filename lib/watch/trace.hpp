// The timeline trace (--unclog_trace): Chrome trace-event JSON, what
// Perfetto's UI and chrome://tracing open. One track per fiber (its steps
// as slices), one per hub thread (its waits for I/O), one for the tests
// (each test's span); each blocking report a slice on its step's track,
// with its kind, duration, call and user frame in the args.
//
// Fiber steps, Asio handler invocations and StepGuard steps are recorded
// only while tracing, into a ring of the last N per
// thread (memory stays bounded however many fibers run), which the thread
// flushes to the file when a report is raised, when its hub ends, and at
// each test's end (the test's thread). The file is valid JSON after every
// flush: events are written in one pwrite each, followed by the closing
// "]}", which the next flush overwrites; a hang exit writes its report.
//
// Thread-safety: record_* and flush_thread() touch the calling thread's
// ring (no lock; the file write takes one). Not for signal handlers.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>

#include "unclog/watch.hpp"

namespace unclog::watch::trace {

extern std::atomic<bool> g_on;
inline bool on() noexcept { return g_on.load(std::memory_order_relaxed); }

std::int64_t now_ns() noexcept;

// Makes this thread's ring (its buffer, and the registration of its exit
// flush, which takes the loader's lock). A hub calls it before its first
// step: record_step runs while a fiber's step is still live, and must not
// allocate or wait there.
void prepare_thread() noexcept;

// A step of the fiber whose track is `track`, named `name`.
void record_step(std::uint64_t track, const char* name, std::int64_t begin_ns, std::int64_t end_ns) noexcept;
// A step of a loop that is not the hub (runner "asio handler", or "step"
// for a StepGuard), on this thread's track for that runner. Returns the
// track, for the report the step may raise.
std::uint64_t record_loop_step(const char* runner, const char* name, std::int64_t begin_ns, std::int64_t end_ns) noexcept;
// The hub on this thread waited for I/O or timers; ran a pass of its loop.
void record_wait(std::int64_t begin_ns, std::int64_t end_ns) noexcept;
void record_pass(std::int64_t begin_ns, std::int64_t end_ns) noexcept;
// A report, on the track of the step it was raised for (0: the thread's).
void record_report(const BlockingReport& r, std::uint64_t track) noexcept;
// A test's span.
void record_test(const std::string& name, std::int64_t begin_ns, std::int64_t end_ns) noexcept;

// Writes this thread's recorded events to the file (a hang's report is
// written by the watchdog thread's own flush, as it is dispatched).
void flush_thread() noexcept;

// The track of the step running on this thread, set by the hub (0 outside).
extern thread_local std::uint64_t t_track;

}  // namespace unclog::watch::trace
