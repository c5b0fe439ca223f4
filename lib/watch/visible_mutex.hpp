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

#include "base/tsan_sync.hpp"

namespace unclog::watch {

class VisibleMutex {
 public:
  constexpr VisibleMutex() noexcept = default;
  void lock() {
    mu_.lock();
    detail::tsan_acquire(this);
  }
  bool try_lock() {
    if (!mu_.try_lock()) return false;
    detail::tsan_acquire(this);
    return true;
  }
  void unlock() {
    detail::tsan_release(this);
    mu_.unlock();
  }

 private:
  std::mutex mu_;
};

}  // namespace unclog::watch
