#include "own_thread.hpp"

#include <sys/mman.h>

namespace unclog::detail {
namespace {

// Reserved, touched pages only: a hang report is symbolized on the watchdog
// (libbacktrace reading debug information), which can go deep.
constexpr std::size_t kStackSize = 8u << 20;
constexpr std::size_t kGuard = 64u << 10;

}  // namespace

bool OwnThread::start(void* (*fn)(void*), void* arg) noexcept {
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) != 0) return false;
  void* map = mmap(nullptr, kStackSize + kGuard, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                   -1, 0);
  if (map != MAP_FAILED) {
    mprotect(map, kGuard, PROT_NONE);  // the stack grows down into it
    pthread_attr_setstack(&attr, static_cast<char*>(map) + kGuard, kStackSize);
    stack_ = map;
    size_ = kStackSize + kGuard;
  }
  started_ = pthread_create(&id_, &attr, fn, arg) == 0;
  pthread_attr_destroy(&attr);
  if (!started_ && stack_) {
    munmap(stack_, size_);
    stack_ = nullptr;
  }
  return started_;
}

void OwnThread::join() noexcept {
  if (!started_) return;
  pthread_join(id_, nullptr);
  started_ = false;
  if (stack_) munmap(stack_, size_);
  stack_ = nullptr;
}

void OwnThread::forget_after_fork() noexcept {
  started_ = false;
  if (stack_) munmap(stack_, size_);
  stack_ = nullptr;
}

}  // namespace unclog::detail
