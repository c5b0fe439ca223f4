#include "fd_modes.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

#include <atomic>
#include <cstdint>

namespace unclog::calls::fd_modes {
namespace {

// One word per fd below kFds: 0 unknown, else the generation it was seen
// in (high bits) and the uses left before it is checked again (low byte).
// 256 KiB, zero-initialized, no constructor to run.
constexpr unsigned kFds = 65536;
constexpr std::uint32_t kUses = 64;
std::atomic<std::uint32_t> g_entries[kFds];
// A mode change through one number changes every number sharing its file
// description (dup, fork, SCM_RIGHTS), which we cannot tell apart: a mode
// change anywhere starts a new generation, and forgets every entry at once.
// Loops change modes when they make an fd, not per call.
std::atomic<std::uint32_t> g_generation{1};

bool in_range(int fd) { return fd >= 0 && static_cast<unsigned>(fd) < kFds; }

// After fork, parent and child share every file description: either may
// change a mode the other remembers.
const bool g_forget_at_fork = [] {
  pthread_atfork(nullptr, forget_modes, forget_modes);
  return true;
}();

}  // namespace

bool known_nonblocking(int fd) noexcept {
  if (!in_range(fd)) return false;
  std::atomic<std::uint32_t>& e = g_entries[fd];
  std::uint32_t v = e.load(std::memory_order_relaxed);
  if ((v >> 8) != (g_generation.load(std::memory_order_relaxed) & 0xffffff) || (v & 0xff) <= 1) return false;
  // A plain store, not a compare-exchange (a locked instruction on every
  // call): it can undo a forget only of a number another thread closes or
  // replaces while this one uses it, a race in the program itself; and then
  // for 64 uses at most. A mode change starts a new generation and cannot be
  // undone.
  e.store(v - 1, std::memory_order_relaxed);
  return true;
}

void remember_nonblocking(int fd) noexcept {
  if (!in_range(fd)) return;
  const std::uint32_t generation = g_generation.load(std::memory_order_relaxed) & 0xffffff;
  g_entries[fd].store(generation << 8 | kUses, std::memory_order_relaxed);
}

void forget(int fd) noexcept {
  if (in_range(fd)) g_entries[fd].store(0, std::memory_order_relaxed);
}

void forget_from(unsigned first, unsigned last) noexcept {
  for (unsigned fd = first; fd < kFds && fd <= last; ++fd) g_entries[fd].store(0, std::memory_order_relaxed);
}

void forget_modes() noexcept {
  // Generation 0 would match a forgotten entry: skip it on wrap-around.
  if ((g_generation.fetch_add(1, std::memory_order_relaxed) + 1) % (1u << 24) == 0) {
    g_generation.fetch_add(1, std::memory_order_relaxed);
  }
}

void note_syscall(long nr, const long a[6], long result) noexcept {
  switch (nr) {
    case SYS_close: forget(static_cast<int>(a[0])); break;
    case SYS_close_range: forget_from(static_cast<unsigned>(a[0]), static_cast<unsigned>(a[1])); break;
    case SYS_dup2:
    case SYS_dup3: forget(static_cast<int>(a[1])); break;
    case SYS_dup: forget(static_cast<int>(result)); break;
    case SYS_fcntl:
      if (a[1] == F_SETFL) forget_modes();
      if (a[1] == F_DUPFD || a[1] == F_DUPFD_CLOEXEC) forget(static_cast<int>(result));
      break;
    case SYS_ioctl:
      if (static_cast<unsigned long>(a[1]) == FIONBIO) forget_modes();
      break;
    default: break;
  }
}

}  // namespace unclog::calls::fd_modes
