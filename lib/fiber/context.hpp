// The machine-specific boundary: how one context is suspended and another
// resumed, and the sanitizer annotations every switch needs (AddressSanitizer
// must be told which stack is about to run, ThreadSanitizer which fiber).
//
// On x86-64 the switch is ours (switch_x86_64.cpp): a call that returns into
// the resumed context with `ret`, so the CPU's return-stack predictor stays in
// step. Boost.Context's jump_fcontext leaves through an indirect `jmp`; every
// switch then left one return address too many on that predictor and the
// following returns all mispredicted (49 ns vs 13 ns per yield round trip,
// see docs/PERFORMANCE.md). Other architectures use Boost.Context, as does
// x86-64 with -Dcontext_switch=boost (CI runs the suite so).
//
// Not thread-safe by nature: a context is resumed on the thread that runs it.
// Sanitizers: switch_to/exit_to annotate; a new context calls on_first_entry().
#pragma once
#include <cstddef>
#include <cstdint>

#include "stack_pool.hpp"

#if defined(__x86_64__) && defined(__ELF__) && !defined(UNCLOG_BOOST_SWITCH)
#define UNCLOG_OWN_SWITCH 1
#else
#include <boost/context/detail/fcontext.hpp>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define UNCLOG_ASAN 1
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(__SANITIZE_THREAD__)
#define UNCLOG_TSAN 1
#include <sanitizer/tsan_interface.h>
#endif

#if UNCLOG_OWN_SWITCH
// Internal to libunclog (hidden): calls are direct, no PLT.
extern "C" {
// Saves the callee-saved registers and the floating-point control words on
// the running stack, stores its stack pointer in *save, and resumes the
// context whose stack pointer is `to`. Returns when something resumes *save.
__attribute__((visibility("hidden"))) void unclog_fiber_switch(void** save, void* to);
// Where a new context starts: calls the entry function make_context put in
// its first frame. Never returns.
__attribute__((visibility("hidden"))) void unclog_fiber_start();
}
#endif

namespace unclog::fiber {

#if UNCLOG_OWN_SWITCH
using Context = void*;  // the suspended context's stack pointer
#else
using Context = boost::context::detail::fcontext_t;
#endif
using Entry = void (*)();  // must not return: it ends with exit_to()

// What a sanitizer needs to know of a context to switch to it.
struct Target {
  const void* stack_bottom = nullptr;  // lowest usable address
  std::size_t stack_size = 0;
  void* tsan_fiber = nullptr;
};

namespace detail {
inline void before_switch(const Target& target, void** fake_stack) {
#if UNCLOG_ASAN
  __sanitizer_start_switch_fiber(fake_stack, target.stack_bottom, target.stack_size);
#endif
#if UNCLOG_TSAN
  __tsan_switch_to_fiber(target.tsan_fiber, 0);
#endif
  (void)target;
  (void)fake_stack;
}
inline void after_switch(void* fake_stack) {
#if UNCLOG_ASAN
  __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#endif
  (void)fake_stack;
}
#if !UNCLOG_OWN_SWITCH
// Boost hands the resumed side the context that jumped; it is stored where
// that side asked (or nowhere, for a finished context).
inline void store_prev(boost::context::detail::transfer_t t) {
  if (t.data) *static_cast<Context*>(t.data) = t.fctx;
}
template <Entry E>
void boost_entry(boost::context::detail::transfer_t t) {
  store_prev(t);
  E();
}
#endif
}  // namespace detail

// A fresh context that will run E on `stack` when first switched to. The
// new context starts with the creating thread's floating-point control words.
// `color` bytes (a multiple of 16) are left unused at the top of the stack.
template <Entry E>
Context make_context(const Stack& stack, std::size_t color = 0) {
#if UNCLOG_OWN_SWITCH
  // The frame unclog_fiber_switch pops: control words, r15, r14, r13,
  // r12 (E), rbx, rbp, then the return address, unclog_fiber_start, which
  // runs with the stack 16-byte aligned, as before a call.
  auto** sp = reinterpret_cast<void**>(static_cast<char*>(stack.top()) - color);
  *--sp = nullptr;
  *--sp = nullptr;
  *--sp = reinterpret_cast<void*>(&unclog_fiber_start);
  for (int i = 0; i < 6; ++i) *--sp = nullptr;
  sp[3] = reinterpret_cast<void*>(E);  // r12
  unsigned mxcsr;
  unsigned short x87;
  asm("stmxcsr %0" : "=m"(mxcsr));
  asm("fnstcw %0" : "=m"(x87));
  *--sp = reinterpret_cast<void*>(std::uintptr_t(mxcsr) | std::uintptr_t(x87) << 32);
  return sp;
#else
  return boost::context::detail::make_fcontext(static_cast<char*>(stack.top()) - color, stack.usable - color,
                                               &detail::boost_entry<E>);
#endif
}

inline Target target_of(const Stack& s, void* tsan_fiber) {
  return {static_cast<const char*>(s.base) + s.guard_size(), s.usable, tsan_fiber};
}

// Suspends the running context into *save and resumes `to`; returns when
// something resumes *save.
inline void switch_to(Context* save, Context to, const Target& target) {
  void* fake_stack = nullptr;
  detail::before_switch(target, &fake_stack);
#if UNCLOG_OWN_SWITCH
  unclog_fiber_switch(save, to);
#else
  detail::store_prev(boost::context::detail::jump_fcontext(to, save));
#endif
  detail::after_switch(fake_stack);
}

// Resumes `to` from a context that has finished and will never run again.
[[noreturn]] inline void exit_to(Context to, const Target& target) {
  detail::before_switch(target, nullptr);
#if UNCLOG_OWN_SWITCH
  void* discarded;
  unclog_fiber_switch(&discarded, to);
#else
  boost::context::detail::jump_fcontext(to, nullptr);
#endif
  __builtin_unreachable();
}

// First thing a new context does.
inline void on_first_entry() { detail::after_switch(nullptr); }

// ThreadSanitizer's identity of a fiber; null without TSan.
inline void* tsan_create_fiber() {
#if UNCLOG_TSAN
  return __tsan_create_fiber(0);
#else
  return nullptr;
#endif
}
inline void tsan_destroy_fiber(void* f) {
#if UNCLOG_TSAN
  if (f) __tsan_destroy_fiber(f);
#else
  (void)f;
#endif
}
inline void* tsan_current_fiber() {
#if UNCLOG_TSAN
  return __tsan_get_current_fiber();
#else
  return nullptr;
#endif
}

// The calling thread's own stack, for switching back to the loop context.
Target thread_stack_target();

}  // namespace unclog::fiber
