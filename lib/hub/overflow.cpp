#include "overflow.hpp"

#include <execinfo.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <mutex>

#include "fiber.hpp"

namespace unclog::detail {
namespace {

struct sigaction g_previous_segv {};
struct sigaction g_previous_bus {};
__attribute__((tls_model("initial-exec"))) thread_local bool t_has_altstack = false;
constexpr std::size_t kAltStackSize = 64 * 1024;

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
  } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
    previous.sa_handler(sig);
    return;
  }
  // Default action: restore it and return; the faulting instruction runs
  // again and the process dies of this signal, as it would have.
  signal(sig, SIG_DFL);
}

// Async-signal-safe; see the header.
void on_fault(int sig, siginfo_t* info, void* ctx) {
  const Fiber* f = running_fiber_for_signal();
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
  chain(sig == SIGBUS ? g_previous_bus : g_previous_segv, sig, info, ctx);
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
    sigaction(SIGSEGV, &sa, &g_previous_segv);
    sigaction(SIGBUS, &sa, &g_previous_bus);
  });
  if (t_has_altstack) return;
  stack_t current{};
  if (sigaltstack(nullptr, &current) == 0 && !(current.ss_flags & SS_DISABLE)) {
    t_has_altstack = true;  // the thread (or a sanitizer) has one already
    return;
  }
  // Owned by the thread until it exits; 64 KiB per thread that runs a hub.
  void* mem = mmap(nullptr, kAltStackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return;
  stack_t ss{};
  ss.ss_sp = mem;
  ss.ss_size = kAltStackSize;
  if (sigaltstack(&ss, nullptr) == 0) t_has_altstack = true; else munmap(mem, kAltStackSize);
}

}  // namespace unclog::detail
