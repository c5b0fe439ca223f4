// Small helpers shared by the benchmarks: timing and the `ratio` line.
#pragma once
#include <chrono>
#include <cstdio>
#include <string>

namespace bench {

// Runs `f` once; returns `items` divided by the seconds it took.
template <class F>
double per_second(long items, F&& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - t0;
  return static_cast<double>(items) / took.count();
}

// The line tests/bench/run collects: ratio NAME VALUE target OP LIMIT ok|MISS
inline void ratio(const char* name, double value, const char* op, double limit) {
  const bool ok = std::string(op) == "<=" ? value <= limit : value >= limit;
  std::printf("ratio %s %.3f target %s %g %s\n", name, value, op, limit, ok ? "ok" : "MISS");
  std::fflush(stdout);
}

}  // namespace bench
