// A fiber as the hub sees it: a context, its stack, its task and its
// scheduling state. Owned jointly (intrusive count) by the hub while it runs
// and by its JoinHandle. Used on the hub's thread only.
#pragma once
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>

#include "fiber/context.hpp"
#include "unclog/detail/task.hpp"

namespace unclog::detail {

class Hub;

// A running fiber's state stays `ready`, as it was when it was queued:
// nothing asks whether a fiber runs (Hub::running() says which one does),
// so a switch stores into neither fiber's line.
enum class FiberState : std::uint8_t { ready, parked, done };

// The fields a switch, a park or a wake touches come first, in one cache
// line: with many fibers each one's Fiber is cold by the time it runs again
// (the kernel's I/O work in between evicts it), and every extra line is a
// miss per step. Without the alignment the yield round trip moved by 5% from
// one heap layout to the next. Its memory comes from a per-thread free list
// (hub.cpp): aligned new alone made spawn+join 20% slower.
struct alignas(64) Fiber final {
  // --- hot ---
  fiber::Context ctx = nullptr;
  Fiber* run_next = nullptr;     // run queue link
  Hub* hub = nullptr;
  Task* task = nullptr;
  FiberState state = FiberState::ready;
  bool cancel_requested = false;
  bool cancellable = false;      // parked in a wait that cancel() may end
  bool timer_fired = false;
  bool detached = false;
  bool error_seen = false;       // rethrown by join() or handed to the hub
  bool io_done = false;          // the I/O request it waits for has completed...
  int refs = 1;                  // the hub's reference while not done
  int io_result = 0;             // ...with this result (io_uring backend)
  std::uint64_t timer_gen = 0;   // invalidates armed timers when bumped
  Fiber* wait_next = nullptr;    // wait queue link (sync primitives)

  // --- cold ---
  Fiber* joiner = nullptr;       // fiber blocked in join() on this one
  fiber::Stack stack;
  fiber::Target target;          // what a switch to this fiber tells sanitizers
  std::unique_ptr<Task> owned_task;  // null for the root, whose task lives in run()
  std::string name;
  std::uint64_t track = 0;       // its track in a timeline trace
  std::exception_ptr error;
  Fiber* all_prev = nullptr;     // the hub's list of fibers not yet done
  Fiber* all_next = nullptr;

  static void* operator new(std::size_t size);
  static void operator delete(void* p) noexcept;
};
static_assert(offsetof(Fiber, wait_next) + sizeof(Fiber*) <= 64, "the hot fields fit one cache line");

// Drops one reference; frees the fiber (and returns its stack to the pool)
// at zero. Defined in hub.cpp.
void release_fiber(Fiber* f) noexcept;

}  // namespace unclog::detail
