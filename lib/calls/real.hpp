// The real libc functions behind our interposed ones, and how to call them.
// Not installed; used by the interpose_*.cpp files only.
#pragma once
#include <dlfcn.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "calls.hpp"
#include "watch/sampler.hpp"
#include "watch/step_slot.hpp"

namespace unclog::calls {

// Resolves the next definition of a libc function. The loader's lock may
// be contended (another thread loading or unwinding): that wait is ours,
// not the user's call, so it is neither judged nor trapped.
inline void* next_symbol(const char* name, const char* version) {
  InternalScope internal;
  void* p = version ? dlvsym(RTLD_NEXT, name, version) : nullptr;
  return p ? p : dlsym(RTLD_NEXT, name);
}

template <std::size_t N>
struct [[gnu::visibility("hidden")]] SymbolName {
  char text[N];
  constexpr SymbolName(const char (&s)[N]) {  // NOLINT: implicit from a literal
    for (std::size_t i = 0; i < N; ++i) text[i] = s[i];
  }
};

// Where a thread-local variable of ours lies from the thread pointer: the
// same for every thread (initial-exec TLS).
template <class T>
std::intptr_t thread_pointer_offset(T* variable) noexcept {
  return reinterpret_cast<const volatile char*>(variable) - static_cast<const volatile char*>(__builtin_thread_pointer());
}

// One real function, resolved while the library loads. Not lazily at the
// first call: that call may come from a signal handler (TSan calls
// pthread_sigmask from its deferred-signal delivery), and dlsym there is
// not async-signal-safe: it takes the loader's lock and frees the thread's
// last dlerror string, which also wiped an error the program had yet to
// read. A call from a constructor that runs before ours still resolves here.
// Hidden: exported, each of the 87 instantiations' three variables was a
// unique symbol the loader looked up and tabled at every start, and the
// unwatched path read `cached` through the GOT, one page more per call.
// Beside the pointer, on its cache line: where our two thread-local flags
// lie, for unwatched_real.
template <SymbolName Fn, SymbolName Version>
struct [[gnu::visibility("hidden")]] RealSymbol {
  struct alignas(32) Cached {
    std::atomic<void*> fn{nullptr};
    std::atomic<std::intptr_t> bound_slot_at{0}, trap_selector_at{0};  // set before fn
  };
  static inline Cached cached;
  static void* get() {
    (void)&at_load;  // instantiates the load-time resolution below
    void* p = cached.fn.load(std::memory_order_acquire);
    if (!p) {
      cached.bound_slot_at.store(thread_pointer_offset(&watch::t_bound_slot), std::memory_order_relaxed);
      cached.trap_selector_at.store(thread_pointer_offset(&watch::t_trap_selector), std::memory_order_relaxed);
      p = next_symbol(Fn.text, Version.text[0] ? Version.text : nullptr);
      cached.fn.store(p, std::memory_order_release);
    }
    return p;
  }
  static inline const bool at_load = get() != nullptr;
};

#define UNCLOG_REAL_V(fn, version) \
  reinterpret_cast<decltype(&::fn)>(::unclog::calls::RealSymbol<#fn, version>::get())
#define UNCLOG_REAL(fn) UNCLOG_REAL_V(fn, "")

// Runs the real function with the thread's system calls untrapped: what it
// does inside is this call, already judged here, so it is reported once and
// by the name the user wrote (pthread_mutex_lock, not futex).
// In a watched step the call is also a CallWindow: the watchdog samples it
// when it returns instead of interrupting it with a signal.
// On a thread that runs no watched step and traps nothing (every thread but
// a hub's or a watched loop's), it is libc's call. Functions that do
// nothing else there are defined with UNCLOG_INTERPOSE (below), whose
// unwatched path never gets this far.
template <class F, class... Args>
inline auto real_call(F* f, Args... args) {
  if (!watch::t_bound_slot && !watch::t_trap_selector) [[likely]] return f(args...);
  const std::uint8_t selector = watch::t_trap_selector;
  if (selector) watch::t_trap_selector = 0;
  watch::CallWindow window;
  auto r = f(args...);
  window.close();
  if (selector) watch::t_trap_selector = selector;
  return r;
}

// The unwatched path of an interposed function that does nothing but call
// libc's when no watched step runs and nothing is trapped: libc's function,
// already resolved (null before that: the full path resolves it).
// Our flags are read at the thread pointer plus offsets kept beside libc's
// function, one cache line. The GOT's offsets (what the compiler emits for
// initial-exec TLS in a shared library) were one page more after each
// system call's TLB flush on a guest without PCID: 1.021 of libc's read
// against 1.011 in a lone test program, AMD EPYC Zen 5. The addition is
// written out: a load through %fs with a register base measured as slow
// as the GOT's (1.020).
template <SymbolName Fn>
inline void* unwatched_real() noexcept {
  const auto& c = RealSymbol<Fn, "">::cached;
  void* fn = c.fn.load(std::memory_order_acquire);
  if (!fn) [[unlikely]] return nullptr;
  const char* tp = static_cast<const char*>(__builtin_thread_pointer());
  if (*reinterpret_cast<watch::StepSlot* const volatile*>(tp + c.bound_slot_at.load(std::memory_order_relaxed)) ||
      *reinterpret_cast<const volatile std::uint8_t*>(tp + c.trap_selector_at.load(std::memory_order_relaxed)))
      [[unlikely]] {
    return nullptr;
  }
  return fn;
}

}  // namespace unclog::calls

// Defines libc's `fn` as that unwatched path, a jump to libc's function,
// with the body that follows the macro as the full path in a function of
// its own. GCC sets up no frame for the jump only when nothing else shares
// the function (it does not shrink-wrap the checks' out-of-line calls):
// two TLS loads, a load of the pointer, and the jump. A report names the
// full path's frame as `fn` again (watch/call_report.cpp).
#define UNCLOG_INTERPOSE(ret, fn, params, args)                                            \
  [[gnu::noinline]] static ret watched_##fn params;                                        \
  ret fn params {                                                                          \
    if (void* unwatched = ::unclog::calls::unwatched_real<#fn>()) [[likely]]              \
      return reinterpret_cast<decltype(&::fn)>(unwatched) args;                            \
    return watched_##fn args;                                                              \
  }                                                                                        \
  static ret watched_##fn params
