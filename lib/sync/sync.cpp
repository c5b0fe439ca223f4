#include <stdexcept>

#include "hub/fiber.hpp"
#include "unclog/sync.hpp"

namespace unclog {
namespace detail {

void WaitQueue::wait() {
  Fiber* self = current_fiber();
  if (!self) throw std::logic_error("unclog: waiting on a fiber primitive outside a hub fiber");
  self->wait_next = nullptr;
  if (tail_) tail_->wait_next = self; else head_ = self;
  tail_ = self;
  park();
}

bool WaitQueue::notify_one() noexcept {
  Fiber* f = head_;
  if (!f) return false;
  head_ = f->wait_next;
  if (!head_) tail_ = nullptr;
  f->wait_next = nullptr;
  unpark(f);
  return true;
}

void WaitQueue::notify_all() noexcept {
  while (notify_one()) {
  }
}

}  // namespace detail

void Mutex::lock() {
  if (!locked_) {
    locked_ = true;
    return;
  }
  waiters_.wait();  // unlock() hands the lock over: it is ours on return
}

bool Mutex::try_lock() noexcept {
  if (locked_) return false;
  locked_ = true;
  return true;
}

void Mutex::unlock() noexcept {
  if (!waiters_.notify_one()) locked_ = false;
}

void Event::set() noexcept {
  set_ = true;
  waiters_.notify_all();
}

void Event::wait() {
  while (!set_) waiters_.wait();
}

}  // namespace unclog
