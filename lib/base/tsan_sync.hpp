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

}  // namespace unclog::detail
