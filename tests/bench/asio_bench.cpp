// The Asio ping-pong of io_bench, alone: built twice, as asio_bench_plain
// and as asio_bench_tracked (with unclog-asio's flag: every handler a
// watched step). Both run as under our gtest main: detection on (time
// mode), so the watchdog thread exists in both. Its mere presence costs a
// single-threaded program glibc's cancellation bookkeeping in every
// recv/send (with "single" the plain run skips it: the figure a program
// without any unclog would give). Prints "asio ping-pong round trips/s: N"
// (best of two). tests/bench/run runs the two programs in turn, pair after
// pair, for asio_pingpong_tracked_vs_plain.
//
// With "calls" (the tracked program): call mode off and on, alternating in
// one process, and prints asio_pingpong_calls_vs_tracked, the median of
// the pairs' ratios (runs of separate processes moved by 10% here). The
// pairs are many and short, and which side goes first alternates: nine
// pairs of 0.8 s read 0.956-1.023 from one process to the next.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "asio_pingpong.hpp"
#include "bench_util.hpp"
#include "unclog/unclog.hpp"

int main(int argc, char** argv) {
  const char* how = argc > 1 ? argv[1] : "";
  if (std::strcmp(how, "single") != 0) {
    unclog::hub_blocking_detection(true, std::chrono::milliseconds(50));
    unclog::set_call_detection(false);
    unclog::run([] {});  // starts the watchdog, as the first watched step would
  }
  if (std::strcmp(how, "calls") == 0) {
    constexpr int kPairs = 61, kPairRounds = bench::kRounds / 8;
    std::vector<double> ratios;
    double off = 0, on = 0;
    const auto with_calls = [&](bool calls) {
      unclog::set_call_detection(calls);
      const double rate = bench::asio_pingpong(kPairRounds);
      (calls ? on : off) = std::max(calls ? on : off, rate);
      return rate;
    };
    for (int pair = 0; pair < kPairs; ++pair) {
      const bool on_first = pair % 2;
      const double first = with_calls(on_first);
      const double second = with_calls(!on_first);
      ratios.push_back(on_first ? first / second : second / first);
    }
    unclog::set_call_detection(false);
    std::sort(ratios.begin(), ratios.end());
    std::printf("asio ping-pong round trips/s, tracked, best of %d: call mode off %.0f, on %.0f\n", kPairs, off, on);
    bench::ratio("asio_pingpong_calls_vs_tracked", ratios[ratios.size() / 2], ">=", 0.95);
    return 0;
  }
  double best = 0;
  for (int i = 0; i < 2; ++i) best = std::max(best, bench::asio_pingpong());
  std::printf("asio ping-pong round trips/s: %.0f\n", best);
  return 0;
}
