// The hub: run queue, timers and the step loop of one thread.
//
// The loop runs passes: every fiber ready when a pass begins runs once as a
// step. A fiber that yields or waits switches straight to the next fiber of
// the pass (one context switch, not two); when the pass is over, or a step
// needs its blocking report built, control returns to the loop context, which
// reaps finished fibers, fires timers and submits/reaps I/O in one syscall,
// blocking only when nothing is ready. A pass is counted in step sequence
// numbers (pass_end_), so that the switch's one comparison against the
// slot's check_at both ends the pass and catches a step the detector wants
// checked (see watch/step_slot.hpp).
//
// Threading: everything here runs on the hub's thread.
#pragma once
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.hpp"
#include "fiber.hpp"
#include "io/backend.hpp"
#include "run_queue.hpp"
#include "timer_heap.hpp"
#include "watch/step_slot.hpp"

namespace unclog::detail {

// Names of the fibers alive in hubs started at or after `generation`
// (hub_generation() before the hubs of interest start). Any thread.
std::uint64_t hub_generation() noexcept;
std::vector<std::string> live_fibers_since(std::uint64_t generation);

class Hub {
  // initial-exec: a plain %fs-relative load on every yield, instead of a
  // call to __tls_get_addr (libunclog is linked, not dlopen'ed).
  __attribute__((tls_model("initial-exec"))) static constinit thread_local Hub* t_current_;

 public:
  Hub();
  ~Hub();
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // The hub of the calling thread, or nullptr.
  static Hub* current() noexcept { return t_current_; }

  // Runs `root` and every fiber it spawns to completion (see run()).
  void run(Task& root, const SpawnOptions& options);

  Fiber* spawn(std::unique_ptr<Task> task, const SpawnOptions& options);
  Fiber* running() const noexcept { return running_.load(std::memory_order_relaxed); }

  // Inline, as is the switch's fast path: a green wait is one call from the
  // code that waits to the context switch.
  void yield() {  // the running fiber's state is still `ready` (see FiberState)
    Fiber* self = running();
    if (watch::step_switch(*marks_)) [[likely]] {
      switch_fast(self, ready_.rotate(self));
      return;
    }
    ready_.push(self);
    switch_out_slow(self);
  }
  void park() {                       // the running fiber waits for unpark()
    running()->state = FiberState::parked;
    if (open_pass_) [[unlikely]] close_open_pass();
    switch_out();
  }
  void unpark(Fiber* f) noexcept {   // no-op unless f is parked
    if (f->state != FiberState::parked) return;
    f->state = FiberState::ready;
    ready_.push(f);
  }
  // Parks the running fiber until `deadline_ns` (-1: none), an unpark(), or
  // cancel. Returns true when the deadline passed.
  bool park_until(std::int64_t deadline_ns);

  void join(Fiber* f);
  void cancel(Fiber* f) noexcept;
  void record_detached_error(Fiber* f) noexcept;
  // A forced unwind (pthread_cancel, pthread_exit) reached fiber `f`'s first
  // frame: `f` ends, the hub runs nothing more and run() goes on with that
  // unwind on the thread's own stack. Called inside the fiber's catch block.
  [[noreturn]] void end_for_thread_exit(Fiber* f);

  io::Backend& backend() noexcept { return *backend_; }

 private:
  Fiber* make_fiber(Task* task, std::unique_ptr<Task> owned, const SpawnOptions& options);
  static void fiber_entry();
  void loop();
  // From the running fiber to what runs next.
  void switch_out() {
    Fiber* self = running();
    if (watch::step_switch(*marks_)) [[likely]] {  // the pass goes on, nothing to check
      switch_fast(self, ready_.pop());
      return;
    }
    switch_out_slow(self);
  }
  void switch_fast(Fiber* self, Fiber* next) {
    prefetch_next_stack();
    running_.store(next, std::memory_order_release);
    if (next != self) fiber::switch_to(&self->ctx, next->ctx, next->target);
  }
  void switch_out_slow(Fiber* self);
  void close_open_pass() noexcept;
  std::uint64_t end_step() noexcept;   // the step's number if it needs a report, else 0
  void begin_step(Fiber* f, std::uint64_t step) noexcept;  // step: its odd number
  // With many fibers, each one's stack has left the cache by the time it
  // runs again; its first lines are fetched while the fiber before it runs
  // (2.5 ns of the 70 a nop takes through the hub, tests/bench/io_bench).
  void prefetch_next_stack() const noexcept {
    if (const Fiber* after = ready_.front()) {
      const char* sp = static_cast<const char*>(after->ctx);
      __builtin_prefetch(sp);
      __builtin_prefetch(sp + 64);
      __builtin_prefetch(sp + 128);
    }
  }
  void resume_from_loop(Fiber* f);
  [[noreturn]] void finish(Fiber* f);  // after a fiber's task has returned
  void fire_timers();
  void report_later(std::uint64_t step, Fiber* f) noexcept;
  [[noreturn]] void fail_deadlock();

  RunQueue ready_;
  TimerHeap timers_;
  std::unique_ptr<io::Backend> backend_;
  fiber::Context loop_ctx_ = nullptr;
  fiber::Target loop_target_;          // the thread's own stack
  // Release stores (plain moves on x86): the watchdog names a hung step by
  // it, and reads the fiber's name after an acquire load of it.
  std::atomic<Fiber*> running_{nullptr};
  friend std::vector<std::string> live_fibers_since(std::uint64_t);
  std::uint64_t generation_ = 0;       // order of start among hubs
  std::mutex all_mu_;                  // all_head_'s links, read by other threads
  Fiber* all_head_ = nullptr;          // fibers not yet done
  std::vector<Fiber*> finished_;       // done fibers whose stacks await release
  std::vector<Fiber*> unobserved_;     // failed, neither joined nor detached yet
  std::size_t live_ = 0;               // fibers not yet done
  std::uint64_t pass_end_ = 0;         // number of the first step after the pass
  // The loop had nothing to do when the last pass ended (no timers, no I/O,
  // nothing finished): the pass goes on with no end until a fiber parks, the
  // one way work for the loop appears (a timer, I/O, an offload; a fiber
  // that finishes returns to the loop itself). Yield-only fibers then never
  // leave the switch's fast path: the slow path once per pass was a third
  // of a two-fiber yield round trip's overhead.
  bool open_pass_ = false;
  // Timeline tracing (watch/trace.hpp), decided when the hub starts. While
  // it is on, every switch takes the slow path, which times the steps.
  bool tracing_ = false;
  // A fiber met pthread_cancel or pthread_exit: see end_for_thread_exit.
  bool thread_ending_ = false;
  std::uint64_t spawned_ = 0;
  std::uint64_t pending_report_ = 0;   // step to report, 0 if none
  Fiber* pending_fiber_ = nullptr;     // ... and the fiber that ran it
  watch::StepSlot* slot_ = nullptr;    // null when detection is off
  watch::StepMarks own_marks_;         // counts steps when it is off
  watch::StepMarks* marks_ = &own_marks_;  // slot_ or own_marks_
  std::uint8_t loop_selector_ = 0;     // t_trap_selector between passes
  std::vector<std::pair<std::string, std::exception_ptr>> detached_errors_;  // fiber name, error
  std::int64_t step_begin_ns_ = 0;   // tracing: when the running step began
  std::int64_t pass_began_ns_ = 0;
  void trace_step_end(const Fiber* f) noexcept;
};

}  // namespace unclog::detail
