// Call mode's cost: an interposed non-blocking read (1 byte of /dev/zero)
// on an unwatched thread vs libc's read called directly; and the same read
// inside a watched step (which classifies the fd) for reference. Then a
// trapped system call (getppid in a watched step: trapped, classified,
// allowed, re-issued) vs the bare SIGSYS round trip of a minimal handler.
#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <stdexcept>

#include "bench_util.hpp"
#include "calls/trap.hpp"
#include "unclog/unclog.hpp"

namespace {

using ReadFn = ssize_t (*)(int, void*, size_t);
constexpr long kReads = 1000000;

double reads_per_second(ReadFn fn, int fd) {
  char c;
  return bench::per_second(kReads, [&] {
    for (long i = 0; i < kReads; ++i) fn(fd, &c, 1);
  });
}

}  // namespace

int main() {
  void* libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
  auto raw = reinterpret_cast<ReadFn>(libc ? dlsym(libc, "read") : nullptr);
  if (!raw) throw std::runtime_error("libc's read not found");
  ReadFn interposed = &::read;  // resolves to libunclog's
  const int fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
  double raw_rate = 0, ours = 0, watched = 0;
  for (int round = 0; round < 9; ++round) {  // best of nine, alternating
    raw_rate = std::max(raw_rate, reads_per_second(raw, fd));
    ours = std::max(ours, reads_per_second(interposed, fd));
  }
  unclog::hub_blocking_detection(true, std::chrono::seconds(10));
  unclog::set_call_detection(true);
  unclog::run([&] { watched = reads_per_second(interposed, fd); });
  std::printf("1-byte reads of /dev/zero per second: libc %.0f, interposed unwatched %.0f, interposed in a watched step "
              "%.0f (x%.2f)\n",
              raw_rate, ours, watched, raw_rate / watched);
  bench::ratio("interposed_read_unwatched_vs_raw", raw_rate / ours, "<=", 1.05);

  static constexpr int kTraps = 100000;
  double trapped_ns = 1e18, bare_ns = 1e18;
  unclog::run([&] {
    if (!unclog::calls::trap::thread_armed()) return;
    for (int round = 0; round < 9; ++round) {  // best of nine, alternating
      const double per_second = bench::per_second(kTraps, [] {
        for (int i = 0; i < kTraps; ++i) (void)getppid();
      });
      trapped_ns = std::min(trapped_ns, 1e9 / per_second);
      bare_ns = std::min(bare_ns, unclog::calls::trap::bare_trap_ns(kTraps));
    }
  });
  if (bare_ns < 1e18) {
    std::printf("trapped getppid: %.0f ns in a watched step, %.0f ns through a bare SIGSYS handler\n", trapped_ns, bare_ns);
    bench::ratio("trapped_syscall_vs_bare_trap", trapped_ns / bare_ns, "<=", 1.5);
  } else {
    std::printf("ratio trapped_syscall_vs_bare_trap - target <= 1.5 skip (no Syscall User Dispatch here)\n");
  }
  close(fd);
  return 0;
}
