#include "alt_stack.hpp"

#include <errno.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstddef>

#include "raw_syscall.hpp"

namespace unclog::fiber {
namespace {

constexpr std::size_t kReserve = 8 << 20;  // a thread's default stack
constexpr std::size_t kGuard = 4096;

__attribute__((tls_model("initial-exec"))) thread_local void* t_ours = nullptr;

// Our own uses must see the kernel's state, not what the interposed
// sigaltstack shows the program, and some run in handlers.
long raw_sigaltstack(const stack_t* ss, stack_t* old) noexcept {
  return raw_syscall4(SYS_sigaltstack, reinterpret_cast<long>(ss), reinterpret_cast<long>(old), 0, 0);
}

bool is_ours(const stack_t& st) noexcept {
  return t_ours && !(st.ss_flags & SS_DISABLE) && st.ss_sp == static_cast<char*>(t_ours) + kGuard;
}

}  // namespace

int query_real(stack_t* old) noexcept {
  const long r = raw_sigaltstack(nullptr, old);
  return r < 0 ? -1 : 0;
}

void ensure_alt_stack() noexcept {
  stack_t current{};
  if (raw_sigaltstack(nullptr, &current) != 0 || !(current.ss_flags & SS_DISABLE)) return;  // ours or the program's
  const int saved = errno;
  void* mem = mmap(nullptr, kReserve, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                   -1, 0);
  if (mem == MAP_FAILED) {
    errno = saved;
    return;
  }
  mprotect(mem, kGuard, PROT_NONE);
  stack_t ss{};
  ss.ss_sp = static_cast<char*>(mem) + kGuard;
  ss.ss_size = kReserve - kGuard;
  if (raw_sigaltstack(&ss, nullptr) == 0) {
    t_ours = mem;
    // Given back when the thread exits, whoever installed it (a hub with
    // detection off has no slot to do it).
    struct Owner {
      ~Owner() { release_alt_stack(); }
    };
    static thread_local Owner owner;
    (void)owner;
  } else {
    munmap(mem, kReserve);
  }
  errno = saved;
}

void release_alt_stack() noexcept {
  if (!t_ours) return;
  stack_t current{};
  if (raw_sigaltstack(nullptr, &current) == 0 && is_ours(current) && !(current.ss_flags & SS_ONSTACK)) {
    stack_t off{};
    off.ss_flags = SS_DISABLE;
    raw_sigaltstack(&off, nullptr);
  } else if (current.ss_flags & SS_ONSTACK) {
    return;  // running on it (cannot happen from our callers): keep it
  }
  munmap(t_ours, kReserve);
  t_ours = nullptr;
}

int program_sigaltstack(const stack_t* ss, stack_t* old) noexcept {
  stack_t current{};
  long r = raw_sigaltstack(nullptr, &current);
  if (r < 0) {
    errno = static_cast<int>(-r);
    return -1;
  }
  const bool ours = is_ours(current);
  if (ss && !(ss->ss_flags & SS_DISABLE)) {
    // The program's own replaces ours (unless a handler runs on ours now:
    // the kernel refuses that with EPERM, as it would on its own stack).
    r = raw_sigaltstack(ss, nullptr);
    if (r < 0) {
      errno = static_cast<int>(-r);
      return -1;
    }
    if (ours) {
      munmap(t_ours, kReserve);
      t_ours = nullptr;
    }
  } else if (ss && !ours) {
    r = raw_sigaltstack(ss, nullptr);  // the program disables its own
    if (r < 0) {
      errno = static_cast<int>(-r);
      return -1;
    }
  }
  // Disabling where only ours is installed: ours stays, and reads as none.
  if (old) {
    if (ours) {
      *old = stack_t{};
      old->ss_flags = SS_DISABLE;
    } else {
      *old = current;
    }
  }
  return 0;
}

}  // namespace unclog::fiber
