// Where reports go: the stderr text sink (rate-limited per place), the JSON
// lines file, user callbacks. Thread-safe.
#pragma once
#include "unclog/watch.hpp"

namespace unclog::watch {

// Stamps the test name, counts the report for this thread, hands it to every
// sink. Called on the thread that raised it.
void dispatch(BlockingReport& report);

// The hang action, on the watchdog thread: sinks (stderr unthrottled), one
// line "unclog: hang: ...", the hang handler, flush, _exit(1).
[[noreturn]] void report_hang(BlockingReport& report);

// The running test's name, stamped on reports (set by the gtest listener;
// nullptr between tests). `name` must outlive its use.
void set_current_test(const char* name) noexcept;
const char* current_test() noexcept;

}  // namespace unclog::watch
