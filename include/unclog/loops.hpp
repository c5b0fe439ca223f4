// Loop steps: any event loop watched, with no code change.
//
// A loop step is what a thread does between returning from its event loop's
// wait for work and making that wait again. When loop steps are on, a wait
// (epoll_wait, epoll_pwait, epoll_pwait2, poll, ppoll, select, pselect) made
// by a known loop ends the thread's loop step and its return begins the next:
// each batch of callbacks is a watched step, reported like a hub step
// ("libuv loop ... held the loop"), and the wait itself is never a step nor a
// blocking call. A loop is recognized by where the wait is called from:
//   - inside libuv, libevent, GLib (GTK, Qt's default dispatcher), Qt 5/6
//     Core, libev or libsystemd (sd-event), by the shared object's code
//     range, so stripped libraries work;
//   - by function name for loops compiled into the program (Boost.Asio's
//     reactor and scheduler; libuv, libevent or GLib linked statically),
//     which needs line tables (-g);
//   - a hand-written loop marks its wait with LoopWait, or names the function
//     that waits with set_loop_functions().
// A loop step lasts as long as the loop's outermost frame is on the stack:
// when the loop returns to the code that ran it, the step is over (checked
// at the next blocking call, sample or step), so the code after the loop is
// not the loop's. Inside a hub fiber, an Asio handler or a StepGuard, the
// wait ends the enclosing step's part before it (reported there if it
// blocked) and the step goes on after it: EXPECT_NO_BLOCKING(uv_run(...))
// watches the callbacks, never the waits.
//
// Loop threads the library runs on its own (GLib's gmain, Qt's internal
// threads: no code of the program called the loop) get no loop steps, and a
// stall of a loop's own machinery (no frame of the program's code inside
// the loop) is reported as the library's (BlockingReport::library), which
// the gtest main counts but does not fail a test for.
//
// x86-64 only (where the loop's frame can be checked with one load); elsewhere
// set_loop_steps(true) says once that loops are not watched.
//
// Thread-safety: every function may be called from any thread.
#pragma once
#include <string>
#include <vector>

namespace unclog {

// On or off for the whole process (default off; hub_blocking_detection(true)
// and the gtest main turn it on: --unclog_loops / UNCLOG_LOOPS).
void set_loop_steps(bool on) noexcept;
bool loop_steps_enabled() noexcept;

// Functions of the program's own loops that make the loop's wait: a wait
// called from a function whose name contains one of these is that loop's
// (the flag --unclog_loop_functions / UNCLOG_LOOP_FUNCTIONS).
void set_loop_functions(std::vector<std::string> names);

// Marks a hand-written loop's wait for work: construct it just before the
// wait, in the function that runs the loop, and let it end just after.
//
//   for (;;) {
//     int n;
//     { unclog::LoopWait wait("my loop"); n = epoll_wait(ep, evs, 64, -1); }
//     for (int i = 0; i < n; ++i) dispatch(evs[i]);   // a loop step
//   }
//
// The steps last until the next LoopWait or until that function returns.
// `loop` names the loop in reports; it must outlive the loop.
class LoopWait {
 public:
  explicit LoopWait(const char* loop = "event loop") noexcept;
  ~LoopWait();
  LoopWait(const LoopWait&) = delete;
  LoopWait& operator=(const LoopWait&) = delete;

 private:
  alignas(void*) unsigned char scope_[6 * sizeof(void*)];  // the library's bookkeeping
};

}  // namespace unclog
