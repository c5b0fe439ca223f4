#include "schedstat.hpp"

#include "io/own_fd.hpp"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace unclog::watch {

int open_schedstat(pid_t tid) noexcept {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", static_cast<int>(tid));
  return io::keep_fd_high(::open(path, O_RDONLY | O_CLOEXEC));
}

SchedStat read_schedstat(int fd) noexcept {
  SchedStat s;
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  s.wall_ns = std::int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
  if (fd < 0) return s;
  char buf[128];
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return s;
  buf[n] = '\0';
  char* end = nullptr;
  s.run_ns = std::strtoll(buf, &end, 10);
  if (end == buf) return s;
  char* p = end;
  s.wait_ns = std::strtoll(p, &end, 10);
  s.valid = end != p;
  return s;
}

}  // namespace unclog::watch
