// Happens-before edges said to ThreadSanitizer. libunclog is never
// TSan-instrumented (lib/meson.build), so TSan does not see its atomics'
// release and acquire; memory it hands from one thread to another through
// libc calls TSan intercepts (memcpy, strlen) needs the edge said here, and
// so do our mutexes' critical sections (watch/visible_mutex.hpp).
// No-ops without TSan (the weak symbols are null). Async-signal-safe.
#pragma once

extern "C" void __tsan_acquire(void* addr) __attribute__((weak));
extern "C" void __tsan_release(void* addr) __attribute__((weak));

namespace unclog::detail {

inline void tsan_release(const void* addr) noexcept {
  if (__tsan_release) __tsan_release(const_cast<void*>(addr));
}
inline void tsan_acquire(const void* addr) noexcept {
  if (__tsan_acquire) __tsan_acquire(const_cast<void*>(addr));
}

// A T made on first use and never destroyed (threads and atexit handlers
// may outlive static destructors). A function-local static's guard is in
// this uninstrumented library, so TSan saw no edge from the thread that
// made the object to the others, and reported their first lock of its
// mutex as a race (an Asio pool in a TSan-built program): said here. Each
// T has one; give it a type of its own. Thread-safe.
template <class T>
T& made_once() {
  static T* const made = [] {
    T* t = new T;
    tsan_release(t);
    return t;
  }();
  tsan_acquire(made);
  return *made;
}

}  // namespace unclog::detail
