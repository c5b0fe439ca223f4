#include "context.hpp"

#include <pthread.h>

namespace unclog::fiber {

Target thread_stack_target() {
  Target t;
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    void* addr = nullptr;
    std::size_t size = 0;
    if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
      t.stack_bottom = addr;
      t.stack_size = size;
    }
    pthread_attr_destroy(&attr);
  }
  t.tsan_fiber = tsan_current_fiber();
  return t;
}

}  // namespace unclog::fiber
