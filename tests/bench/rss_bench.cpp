// Resident memory per idle fiber: N fibers parked on an event, RSS before
// and after, divided by N (10,000 and 100,000 fibers).
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "bench_util.hpp"
#include "unclog/unclog.hpp"

namespace {

double rss_kib() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / 1024.0;
}

double kib_per_idle_fiber(int n) {
  double per = 0;
  // Outside the root fiber: the waiters wake after the root has returned,
  // and must not read an Event that lived on its (reused) stack.
  unclog::Event go;
  unclog::run([&] {
    const double before = rss_kib();
    for (int i = 0; i < n; ++i) unclog::spawn([&] { go.wait(); }).detach();
    unclog::yield();  // every fiber runs once and parks
    per = (rss_kib() - before) / n;
    go.set();
  });
  return per;
}

}  // namespace

int main() {
  const double at10k = kib_per_idle_fiber(10000);
  const double at100k = kib_per_idle_fiber(100000);
  std::printf("resident memory per idle fiber: %.2f KiB at 10,000 fibers, %.2f KiB at 100,000 (default stack %zu KiB, "
              "touched pages only)\n",
              at10k, at100k, unclog::default_stack_size() / 1024);
  bench::ratio("rss_per_idle_fiber_kib", at100k, "<=", 16);
  return 0;
}
