// The machine-specific boundary: three functions around Boost.Context's
// fcontext, and the sanitizer annotations every switch needs. Boost 1.74's
// fcontext path has none, so they are ours, here and nowhere else:
// AddressSanitizer must be told which stack is about to run
// (__sanitizer_start/finish_switch_fiber), ThreadSanitizer which fiber
// (__tsan_switch_to_fiber).
//
// Not thread-safe by nature: a context is resumed on the thread that runs it.
#pragma once
#include <boost/context/detail/fcontext.hpp>
#include <cstddef>

#include "stack_pool.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define UNCLOG_ASAN 1
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(__SANITIZE_THREAD__)
#define UNCLOG_TSAN 1
#include <sanitizer/tsan_interface.h>
#endif

namespace unclog::fiber {

using Context = boost::context::detail::fcontext_t;
using Transfer = boost::context::detail::transfer_t;
using Entry = void (*)(Transfer);

// What a sanitizer needs to know of a context to switch to it.
struct Target {
  const void* stack_bottom = nullptr;  // lowest usable address
  std::size_t stack_size = 0;
  void* tsan_fiber = nullptr;
};

// A fresh context that will run `entry` on `stack` when first jumped to.
inline Context make_context(const Stack& stack, Entry entry) {
  return boost::context::detail::make_fcontext(stack.top(), stack.usable, entry);
}

inline Target target_of(const Stack& s, void* tsan_fiber) {
  return {static_cast<const char*>(s.base) + s.guard_size(), s.usable, tsan_fiber};
}

// Suspends the running context and resumes `to`, handing it `data`. Returns
// when something jumps back here; Transfer::fctx is then the context that
// jumped, Transfer::data what it handed over. `exiting`: the running context
// will never be resumed (its fiber finished).
inline Transfer jump(Context to, void* data, const Target& target, bool exiting = false) {
#if UNCLOG_ASAN
  void* fake_stack = nullptr;
  __sanitizer_start_switch_fiber(exiting ? nullptr : &fake_stack, target.stack_bottom, target.stack_size);
#endif
#if UNCLOG_TSAN
  __tsan_switch_to_fiber(target.tsan_fiber, 0);
#endif
  (void)target;
  (void)exiting;
  Transfer t = boost::context::detail::jump_fcontext(to, data);
#if UNCLOG_ASAN
  __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#endif
  return t;
}

// First thing a new context does.
inline void on_first_entry() {
#if UNCLOG_ASAN
  __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
#endif
}

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
