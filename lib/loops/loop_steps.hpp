// Loop steps: the step boundaries an event loop's wait makes
// (unclog/loops.hpp). The interposed wait functions and LoopWait bracket
// the wait with a WaitScope.
//
// Thread-safety: owner thread only (the thread making the wait); not for
// signal handlers.
#pragma once
#include <cstdint>
#include <new>

#include "known_loops.hpp"
#include "unclog/watch.hpp"
#include "watch/step_slot.hpp"

namespace unclog::loops {

// The loop a wait called from `return_address` belongs to, when the wait
// can matter (loop steps on, or a watched step running here), and the call
// site it was judged by (further out than `return_address` when a sanitizer
// interceptor called us).
struct WaitSite {
  const Loop* loop = nullptr;
  std::uintptr_t site = 0;
};
WaitSite loop_wait_site(std::uintptr_t return_address, bool fd_wait) noexcept;

// Before the wait: ends the thread's loop step (reporting it if it
// blocked), or, inside another step (a hub fiber, an Asio handler, a
// StepGuard), reports the part of it before the wait if that blocked and
// keeps the wait out of the step (AllowBlocking: the clock restarts after
// it). After the wait: begins the next loop step.
class WaitScope {
 public:
  // `condition_wait`: its caller holds the mutex, before the wait and
  // again when it returns (Asio's scheduler lock, which every thread of a
  // pool takes): a step whose judging reads a stack is judged on our
  // thread (watch/deferred_steps.hpp).
  WaitScope(const Loop& loop, std::uintptr_t site, const char* runner = nullptr, bool condition_wait = false) noexcept;
  ~WaitScope();
  // The call site the next loop step's frame is found from, when it is not
  // the one given at construction (LoopWait: its destructor's).
  void set_site(std::uintptr_t site) noexcept { site_ = site; }
  WaitScope(const WaitScope&) = delete;
  WaitScope& operator=(const WaitScope&) = delete;

 private:
  enum class After : std::uint8_t { nothing, begin_loop_step, end_allowance };
  void enter() noexcept;
  void leave() noexcept;
  const Loop& loop_;
  std::uintptr_t site_;
  const char* runner_;
  After after_ = After::nothing;
  bool condition_wait_;
  alignas(AllowBlocking) unsigned char allowance_[sizeof(AllowBlocking)];
};

// Boost.Asio built with the unclog-asio flag makes each handler a step of
// its own (asio_handler_steps.cpp): its reactor's waits then begin no loop
// steps, and a handler that finds one running ends it first.
void note_asio_handlers_tracked() noexcept;
bool asio_handlers_tracked(const Loop& loop) noexcept;
// Ends the running loop step (reporting it if it blocked). Owner thread.
void end_loop_step_here(watch::StepSlot& slot);
// ... whose loop frame is known live (the loop is returning).
void end_loop_step(watch::StepSlot& slot);

struct LoopFrame;
// Names the slot's loop steps after `f` ("libuv loop", "uv_run (thread N)").
void name_loop(watch::StepSlot& slot, const LoopFrame& f, const char* runner);
// Begins a loop step of the loop whose frame the slot holds (loop_cfa,
// loop_ret, loop_kind), with its names and remedies. No step may be running.
void start_step_on_frame(watch::StepSlot& slot);

}  // namespace unclog::loops
