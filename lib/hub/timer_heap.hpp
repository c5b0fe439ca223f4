// Min-heap of fiber wake-ups. Cancelling is lazy: a fiber bumps its
// timer_gen and the stale entry is dropped when it surfaces, or when the heap
// is compacted because stale entries outnumber live ones. Each entry holds a
// reference on its fiber, so a stale entry never points at freed memory.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "fiber.hpp"

namespace unclog::detail {

class TimerHeap {
 public:
  struct Entry {
    std::int64_t deadline_ns;
    std::uint64_t order;   // ties fire in the order they were set
    Fiber* fiber;
    std::uint64_t gen;
  };

  void add(std::int64_t deadline_ns, Fiber* f) {
    f->refs++;
    heap_.push_back({deadline_ns, next_order_++, f, f->timer_gen});
    std::push_heap(heap_.begin(), heap_.end(), later);
    if (heap_.size() > 64 && heap_.size() > 4 * live_hint_ + 64) compact();
  }

  bool empty() const noexcept { return heap_.empty(); }

  // Deadline of the earliest entry that is still armed, or -1.
  std::int64_t next_deadline() {
    drop_stale();
    return heap_.empty() ? -1 : heap_.front().deadline_ns;
  }

  // Pops every armed entry due at `now_ns`, calling fire(fiber) in order.
  template <class Fire>
  void fire_due(std::int64_t now_ns, Fire&& fire) {
    for (;;) {
      drop_stale();
      if (heap_.empty() || heap_.front().deadline_ns > now_ns) return;
      Fiber* f = heap_.front().fiber;
      std::pop_heap(heap_.begin(), heap_.end(), later);
      heap_.pop_back();
      f->timer_gen++;
      fire(f);
      release_fiber(f);
    }
  }

  void set_live_hint(std::size_t live) noexcept { live_hint_ = live; }

  void clear() noexcept {
    for (const Entry& e : heap_) release_fiber(e.fiber);
    heap_.clear();
  }
  ~TimerHeap() { clear(); }

 private:
  static bool later(const Entry& a, const Entry& b) {
    return a.deadline_ns != b.deadline_ns ? a.deadline_ns > b.deadline_ns : a.order > b.order;
  }
  static bool stale(const Entry& e) { return e.gen != e.fiber->timer_gen; }
  void drop_stale() {
    while (!heap_.empty() && stale(heap_.front())) {
      Fiber* f = heap_.front().fiber;
      std::pop_heap(heap_.begin(), heap_.end(), later);
      heap_.pop_back();
      release_fiber(f);
    }
  }
  void compact() {
    std::erase_if(heap_, [](const Entry& e) {
      if (!stale(e)) return false;
      release_fiber(e.fiber);
      return true;
    });
    std::make_heap(heap_.begin(), heap_.end(), later);
  }

  std::vector<Entry> heap_;
  std::uint64_t next_order_ = 0;
  std::size_t live_hint_ = 0;
};

}  // namespace unclog::detail
