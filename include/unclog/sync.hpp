// Fiber synchronisation: a mutex, an event and a bounded channel. Waiting
// suspends only the calling fiber. Waiters are served in FIFO order.
//
// Threading: an object belongs to one hub and is used by that hub's fibers
// only (no cross-thread wake-ups). Waiting outside a fiber throws
// std::logic_error. A hub whose fibers all wait on these with nothing left to
// wake them reports a deadlock from run().
#pragma once
#include <cstddef>
#include <deque>
#include <optional>
#include <utility>

#include "unclog/detail/task.hpp"

namespace unclog {

namespace detail {
// FIFO of parked fibers, linked through the fibers themselves (no allocation).
class WaitQueue {
 public:
  void wait();           // parks the current fiber until notified
  bool notify_one() noexcept;
  void notify_all() noexcept;
  bool empty() const noexcept { return head_ == nullptr; }

 private:
  Fiber* head_ = nullptr;
  Fiber* tail_ = nullptr;
};
}  // namespace detail

// A non-recursive mutex with direct hand-off: unlock() gives the lock to the
// longest waiter, so nobody barges in front of it.
class Mutex {
 public:
  void lock();
  bool try_lock() noexcept;
  void unlock() noexcept;

 private:
  bool locked_ = false;
  detail::WaitQueue waiters_;
};

// A manual-reset event: wait() returns once set() was called, until reset().
class Event {
 public:
  void set() noexcept;
  void reset() noexcept { set_ = false; }
  bool is_set() const noexcept { return set_; }
  void wait();

 private:
  bool set_ = false;
  detail::WaitQueue waiters_;
};

// A bounded multi-producer multi-consumer queue. send() suspends while the
// channel is full, receive() while it is empty. After close(), send() fails
// and receive() drains what is left, then returns std::nullopt.
template <class T>
class Channel {
 public:
  explicit Channel(std::size_t capacity) : capacity_(capacity ? capacity : 1) {}

  // Returns false (and drops nothing: `value` is untouched) when closed.
  bool send(T& value) {
    while (items_.size() >= capacity_ && !closed_) senders_.wait();
    if (closed_) return false;
    items_.push_back(std::move(value));
    receivers_.notify_one();
    return true;
  }
  bool send(T&& value) { return send(value); }

  std::optional<T> receive() {
    while (items_.empty() && !closed_) receivers_.wait();
    if (items_.empty()) return std::nullopt;
    std::optional<T> out(std::move(items_.front()));
    items_.pop_front();
    senders_.notify_one();
    return out;
  }

  void close() noexcept {
    closed_ = true;
    senders_.notify_all();
    receivers_.notify_all();
  }

  bool closed() const noexcept { return closed_; }
  std::size_t size() const noexcept { return items_.size(); }
  std::size_t capacity() const noexcept { return capacity_; }

 private:
  std::size_t capacity_;
  bool closed_ = false;
  std::deque<T> items_;
  detail::WaitQueue senders_;
  detail::WaitQueue receivers_;
};

}  // namespace unclog
