// Spawn and join: fibers per second on the hub vs std::thread create+join.
#include <algorithm>
#include <cstdio>
#include <thread>
#include <vector>

#include "bench_util.hpp"
#include "unclog/unclog.hpp"

int main() {
  constexpr int kFibers = 100000, kThreads = 2000;
  double fibers = 0, threads = 0;
  for (int round = 0; round < 3; ++round) {
    fibers = std::max(fibers, bench::per_second(kFibers, [] {
      unclog::run([] {
        int sum = 0;
        for (int i = 0; i < kFibers; ++i) sum += unclog::spawn([i] { return i & 1; }).join();
        return sum;
      });
    }));
    threads = std::max(threads, bench::per_second(kThreads, [] {
      for (int i = 0; i < kThreads; ++i) std::thread([] {}).join();
    }));
  }
  std::printf("spawn+join per second: fibers %.0f, std::thread %.0f\n", fibers, threads);
  bench::ratio("spawn_join_vs_std_thread", fibers / threads, ">=", 20);
  return 0;
}
