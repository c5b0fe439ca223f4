// The real libc functions behind our interposed ones, and how to call them.
// Not installed; used by the interpose_*.cpp files only.
#pragma once
#include <dlfcn.h>

#include <atomic>
#include <cstdint>

#include "calls.hpp"
#include "watch/sampler.hpp"
#include "watch/step_slot.hpp"

namespace unclog::calls {

// Resolves the next definition of a libc function, once. The loader's lock
// may be contended (another thread loading or unwinding): that wait is
// ours, not the user's call, so it is neither judged nor trapped.
inline void* next_symbol(const char* name, const char* version) {
  InternalScope internal;
  void* p = version ? dlvsym(RTLD_NEXT, name, version) : nullptr;
  return p ? p : dlsym(RTLD_NEXT, name);
}

#define UNCLOG_REAL_V(fn, version)                                                        \
  ([]() {                                                                                 \
    static std::atomic<void*> cached{nullptr};                                            \
    void* p = cached.load(std::memory_order_acquire);                                     \
    if (!p) {                                                                             \
      p = next_symbol(#fn, version);                                                      \
      cached.store(p, std::memory_order_release);                                         \
    }                                                                                     \
    return reinterpret_cast<decltype(&::fn)>(p);                                          \
  }())
#define UNCLOG_REAL(fn) UNCLOG_REAL_V(fn, nullptr)

// Runs the real function with the thread's system calls untrapped: what it
// does inside is this call, already judged here, so it is reported once and
// by the name the user wrote (pthread_mutex_lock, not futex).
// In a watched step the call is also a CallWindow: the watchdog samples it
// when it returns instead of interrupting it with a signal.
template <class F, class... Args>
inline auto real_call(F* f, Args... args) {
  const std::uint8_t selector = watch::t_trap_selector;
  if (selector) watch::t_trap_selector = 0;
  watch::CallWindow window;
  auto r = f(args...);
  window.close();
  if (selector) watch::t_trap_selector = selector;
  return r;
}

}  // namespace unclog::calls
