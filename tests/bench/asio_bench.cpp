// The Asio ping-pong of io_bench, alone: built twice, as asio_bench_plain
// and as asio_bench_tracked (with unclog-asio's flag: every handler a
// watched step). tests/bench/run runs the two in turn and prints
// asio_pingpong_tracked_vs_plain. Both run as under our gtest main:
// detection on (time mode; call mode too with the argument "calls"), so the
// watchdog thread exists in both. Its mere presence costs a single-threaded
// program glibc's cancellation bookkeeping in every recv/send (with
// "single" the plain run skips it: the figure a program without any unclog
// would give). Prints "asio ping-pong round trips/s: N" (best of three).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "asio_pingpong.hpp"
#include "unclog/unclog.hpp"

int main(int argc, char** argv) {
  const char* how = argc > 1 ? argv[1] : "";
  if (std::strcmp(how, "single") != 0) {
    unclog::hub_blocking_detection(true, std::chrono::milliseconds(50));
    unclog::set_call_detection(std::strcmp(how, "calls") == 0);
    unclog::run([] {});  // starts the watchdog, as the first watched step would
  }
  double best = 0;
  for (int i = 0; i < 3; ++i) best = std::max(best, bench::asio_pingpong());
  std::printf("asio ping-pong round trips/s: %.0f\n", best);
  return 0;
}
