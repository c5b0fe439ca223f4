// A fiber as the hub sees it: a context, its stack, its task and its
// scheduling state. Owned jointly (intrusive count) by the hub while it runs
// and by its JoinHandle. Used on the hub's thread only.
#pragma once
#include <cstdint>
#include <exception>
#include <memory>
#include <string>

#include "fiber/context.hpp"
#include "unclog/detail/task.hpp"

namespace unclog::detail {

class Hub;

enum class FiberState : std::uint8_t { ready, running, parked, done };

struct Fiber {
  fiber::Context ctx = nullptr;
  fiber::Stack stack;
  fiber::Target target;          // what a switch to this fiber tells sanitizers
  std::unique_ptr<Task> owned_task;  // null for the root, whose task lives in run()
  Task* task = nullptr;
  Hub* hub = nullptr;
  std::string name;

  FiberState state = FiberState::ready;
  int refs = 1;                  // the hub's reference while not done
  bool detached = false;
  bool cancel_requested = false;
  bool error_seen = false;       // rethrown by join() or handed to the hub
  std::exception_ptr error;

  Fiber* run_next = nullptr;     // run queue link
  Fiber* wait_next = nullptr;    // wait queue link (sync primitives)
  Fiber* joiner = nullptr;       // fiber blocked in join() on this one
  std::uint64_t timer_gen = 0;   // invalidates armed timers when bumped
  bool timer_fired = false;
  bool cancellable = false;      // parked in a wait that cancel() may end
  Fiber* all_prev = nullptr;     // the hub's list of fibers not yet done
  Fiber* all_next = nullptr;
};

// Drops one reference; frees the fiber (and returns its stack to the pool)
// at zero. Defined in hub.cpp.
void release_fiber(Fiber* f) noexcept;

}  // namespace unclog::detail
