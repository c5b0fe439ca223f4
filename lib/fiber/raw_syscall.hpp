// A system call made directly, not through libc or our interposed wrappers:
// for our own signal bookkeeping, which must see and set the kernel's state
// (not the program's view) and runs in signal handlers. Async-signal-safe;
// errno untouched; returns -errno on failure. x86-64 only, as the rest of
// our signal machinery.
#pragma once

namespace unclog::fiber {

inline long raw_syscall4(long nr, long a, long b, long c, long d) noexcept {
  long r;
  register long r10 asm("r10") = d;
  asm volatile("syscall" : "=a"(r) : "0"(nr), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
  return r;
}

// Sets `sig` to its default action (kernel sigaction: no restorer needed).
inline long reset_to_default(int sig) noexcept {
  struct {
    unsigned long handler = 0, flags = 0, restorer = 0, mask = 0;
  } dfl;
  return raw_syscall4(13 /* rt_sigaction */, sig, reinterpret_cast<long>(&dfl), 0, 8);
}

}  // namespace unclog::fiber
