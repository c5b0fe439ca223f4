// Intrusive FIFO of ready fibers. No allocation.
#pragma once
#include <cstddef>

#include "fiber.hpp"

namespace unclog::detail {

class RunQueue {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  std::size_t size() const noexcept { return size_; }
  Fiber* front() const noexcept { return head_; }
  void push(Fiber* f) noexcept {
    f->run_next = nullptr;
    if (tail_) tail_->run_next = f; else head_ = f;
    tail_ = f;
    ++size_;
  }
  // push(f) then pop(), the size unchanged (a yield's fast path: two
  // read-modify-writes of size_ fewer per switch).
  Fiber* rotate(Fiber* f) noexcept {
    Fiber* first = head_;
    if (!first) return f;
    f->run_next = nullptr;
    head_ = first->run_next;
    if (head_) tail_->run_next = f; else head_ = f;
    tail_ = f;
    return first;
  }
  Fiber* pop() noexcept {
    Fiber* f = head_;
    if (f) {
      head_ = f->run_next;
      if (!head_) tail_ = nullptr;
      --size_;
    }
    return f;
  }

 private:
  Fiber* head_ = nullptr;
  Fiber* tail_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace unclog::detail
