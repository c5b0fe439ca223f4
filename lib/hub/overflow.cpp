#include "overflow.hpp"

#include <execinfo.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <mutex>

#include "fiber.hpp"
#include "fiber/alt_stack.hpp"
#include "fiber/raw_syscall.hpp"

namespace unclog::detail {
namespace {

// The program's actions for SIGSEGV and SIGBUS (or a sanitizer's, or
// whatever was there before us). Ours stays installed; the program sets and
// reads these through the interposed sigaction (program_fault_action), and
// our handler runs them. Two copies each, flipped on a change, so that a
// handler reading one never sees it half written.
struct ProgramAction {
  struct sigaction copies[2] {};
  std::atomic<int> current{0};
  const struct sigaction& get() const noexcept { return copies[current.load(std::memory_order_acquire)]; }
};
ProgramAction g_segv, g_bus;
std::atomic<bool> g_installed{false};

ProgramAction& action_of(int sig) { return sig == SIGBUS ? g_bus : g_segv; }

// Appends `s` to buf at *len, within cap. Async-signal-safe.
void append(char* buf, std::size_t* len, std::size_t cap, const char* s) {
  while (*s && *len + 1 < cap) buf[(*len)++] = *s++;
}

void append_number(char* buf, std::size_t* len, std::size_t cap, std::size_t n) {
  char digits[24];
  int i = 0;
  do {
    digits[i++] = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n && i < 24);
  while (i > 0 && *len + 1 < cap) buf[(*len)++] = digits[--i];
}

void chain(const struct sigaction& previous, int sig, siginfo_t* info, void* ctx) {
  if (previous.sa_flags & SA_SIGINFO) {
    if (previous.sa_sigaction) {
      previous.sa_sigaction(sig, info, ctx);
      return;
    }
  } else if (previous.sa_handler == SIG_IGN) {
    return;
  } else if (previous.sa_handler != SIG_DFL) {
    previous.sa_handler(sig);
    return;
  }
  // Default action: restore it. A fault's instruction runs again and the
  // process dies of it; a signal that was sent (raise, kill, sigqueue: a
  // death test's EXPECT_EXIT) is sent again, and kills once we return.
  fiber::reset_to_default(sig);
  if (info->si_code <= 0) fiber::raw_syscall4(SYS_tgkill, getpid(), gettid(), sig, 0);
}

// Async-signal-safe; see the header.
void on_fault(int sig, siginfo_t* info, void* ctx) {
  const Fiber* f = info->si_code > 0 ? running_fiber_for_signal() : nullptr;  // a fault, not a sent signal
  if (f && f->stack) {
    const auto addr = reinterpret_cast<std::uintptr_t>(info->si_addr);
    const auto guard = reinterpret_cast<std::uintptr_t>(f->stack.base);
    if (addr >= guard && addr < guard + f->stack.guard_size()) {
      char msg[512];
      std::size_t len = 0;
      append(msg, &len, sizeof msg, "unclog: fiber \"");
      append(msg, &len, sizeof msg, f->name.c_str());
      append(msg, &len, sizeof msg, "\" overflowed its ");
      append_number(msg, &len, sizeof msg, f->stack.usable / 1024);
      append(msg, &len, sizeof msg, " KiB stack (raise SpawnOptions::stack_size or unclog::set_default_stack_size)\n");
      (void)!write(STDERR_FILENO, msg, len);
      void* frames[48];
      int n = backtrace(frames, 48);
      backtrace_symbols_fd(frames, n, STDERR_FILENO);
    }
  }
  chain(action_of(sig).get(), sig, info, ctx);
}

}  // namespace

void install_overflow_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    void* warm[2];
    backtrace(warm, 2);  // loads libgcc's unwinder now, not in the handler
    struct sigaction sa {};
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    // Before g_installed: the interposed sigaction still installs these.
    sigaction(SIGSEGV, &sa, &g_segv.copies[0]);
    sigaction(SIGBUS, &sa, &g_bus.copies[0]);
    g_installed.store(true, std::memory_order_release);
  });
  fiber::ensure_alt_stack();
}

bool overflow_handler_installed() noexcept { return g_installed.load(std::memory_order_acquire); }

int program_fault_action(int sig, const struct sigaction* act, struct sigaction* old) noexcept {
  static std::mutex mu;
  std::lock_guard lk(mu);
  ProgramAction& a = action_of(sig);
  const int cur = a.current.load(std::memory_order_relaxed);
  if (old) *old = a.copies[cur];
  if (act) {
    a.copies[1 - cur] = *act;
    a.current.store(1 - cur, std::memory_order_release);
  }
  return 0;
}

}  // namespace unclog::detail
