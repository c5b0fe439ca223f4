// The monotonic clock in nanoseconds, as every layer reads it (steps,
// samples, timers, the trace). Async-signal-safe (clock_gettime is), any
// thread; the vDSO makes it no system call.
#pragma once
#include <time.h>

#include <cstdint>

namespace unclog::detail {

inline std::int64_t monotonic_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace unclog::detail
