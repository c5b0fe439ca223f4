#include "schedstat.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "base/clock.hpp"
#include "io/own_fd.hpp"

namespace unclog::watch {

int open_schedstat(pid_t tid) noexcept {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", static_cast<int>(tid));
  return io::keep_fd_high(::open(path, O_RDONLY | O_CLOEXEC));
}

namespace {

// One pread of the file, parsed; false when it says nothing.
bool read_counters(int fd, SchedStat& s) noexcept {
  char buf[128];
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return false;
  buf[n] = '\0';
  char* end = nullptr;
  s.run_ns = std::strtoll(buf, &end, 10);
  if (end == buf) return false;
  char* p = end;
  s.wait_ns = std::strtoll(p, &end, 10);
  return end != p;
}

}  // namespace

SchedStat read_schedstat(int fd) noexcept {
  SchedStat s;
  s.wall_ns = detail::monotonic_ns();
  if (fd < 0) return s;
  // The clock and the counters must describe one moment. A reader preempted
  // between the two (a loaded machine; the watched thread reading its own
  // file beside a CPU hog) would charge the gap to nobody, and a step that
  // only waited for a CPU would read as off-CPU time: a 'cpu' or 'blocked'
  // stall. So the read is bracketed by two clock reads and taken again when
  // they are far apart; the later read is the one kept.
  constexpr std::int64_t kTightNs = 500'000;
  for (int attempt = 0; attempt < 4; ++attempt) {
    const std::int64_t before = detail::monotonic_ns();
    SchedStat t;
    t.valid = read_counters(fd, t);
    t.wall_ns = detail::monotonic_ns();
    if (!t.valid) return s;
    s = t;
    if (t.wall_ns - before <= kTightNs) break;
  }
  return s;
}

}  // namespace unclog::watch
