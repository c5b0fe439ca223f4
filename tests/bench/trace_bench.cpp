// What a timeline costs: ns per step of a yield ping-pong (two fibers,
// detection on) with a trace being written over without, best of five
// alternating rounds. Informational: no target.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

#include "bench_util.hpp"
#include "unclog/unclog.hpp"

namespace {

double ns_per_step() {
  constexpr int kYields = 1000000;
  const double steps_per_second = bench::per_second(2L * kYields, [] {
    unclog::run([] {
      auto a = unclog::spawn([] { for (int i = 0; i < kYields; ++i) unclog::yield(); });
      auto b = unclog::spawn([] { for (int i = 0; i < kYields; ++i) unclog::yield(); });
      a.join();
      b.join();
    });
  });
  return 1e9 / steps_per_second;
}

}  // namespace

int main() {
  unclog::hub_blocking_detection(true, std::chrono::milliseconds(50));
  const std::string path = "/tmp/unclog_trace_bench_" + std::to_string(getpid()) + ".json";
  double off = 1e18, on = 1e18;
  for (int round = 0; round < 5; ++round) {
    off = std::min(off, ns_per_step());
    unclog::set_trace_file(path);
    on = std::min(on, ns_per_step());
    unclog::set_trace_file("");
  }
  ::unlink(path.c_str());
  std::printf("ns per step: untraced %.1f, traced %.1f\n", off, on);
  bench::ratio("step_tracing_on_vs_off", on / off, ">=", 0);  // informational
  return 0;
}
