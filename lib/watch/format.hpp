// Durations as reports print them, so that every line that quotes a figure
// (the report, the end-of-run summary) shows the same number.
#pragma once
#include <chrono>
#include <string>

namespace unclog::watch {

// "0.3 ms", "9.9 ms", "98 ms": one decimal under 10 ms, rounded above.
std::string format_ms(std::chrono::nanoseconds d);

}  // namespace unclog::watch
