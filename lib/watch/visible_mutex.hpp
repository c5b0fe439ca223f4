// A mutex whose ordering ThreadSanitizer sees even where it ignores our
// lock calls. libunclog is not instrumented: its pthread_mutex_lock calls
// reach TSan only through its interceptors, and a call made while TSan runs
// one of its own (our epoll_wait, inside TSan's, when a loop waits) is not
// seen. The symbolizer's cache, filled on one thread and used inside a
// loop's wait on another, was then reported as a race in a TSan-built test.
// The annotations are weak symbols: without TSan they are null, and a lock
// costs a test and a branch more.
//
// Thread-safety: a std::mutex. Constant-initialized, so usable as a static.
#pragma once
#include <mutex>

extern "C" void __tsan_acquire(void* addr) __attribute__((weak));
extern "C" void __tsan_release(void* addr) __attribute__((weak));

namespace unclog::watch {

class VisibleMutex {
 public:
  constexpr VisibleMutex() noexcept = default;
  void lock() {
    mu_.lock();
    if (__tsan_acquire) __tsan_acquire(this);
  }
  bool try_lock() {
    if (!mu_.try_lock()) return false;
    if (__tsan_acquire) __tsan_acquire(this);
    return true;
  }
  void unlock() {
    if (__tsan_release) __tsan_release(this);
    mu_.unlock();
  }

 private:
  std::mutex mu_;
};

}  // namespace unclog::watch
