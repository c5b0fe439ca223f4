// The frame of a running event loop: found once per run of the loop by
// unwinding from its wait, then checked with one load (step_slot.hpp,
// loop_frame_live) for as long as its steps last.
//
// Thread-safety: the calling thread's own stack only. Not for signal handlers
// (unwinding may symbolize, for loops known by name).
#pragma once
#include <cstdint>

#include "known_loops.hpp"

namespace unclog::loops {

struct LoopFrame {
  std::uintptr_t cfa = 0;   // the loop's outermost frame: the caller's stack pointer before the call
  std::uintptr_t ret = 0;   // the return address into the code that ran the loop (stored at cfa - 8)
  const Loop* loop = nullptr;  // the outermost loop on the way (Qt over the GLib it runs on)
  char entry[64] = {};      // the function the program called to run it ("uv_run"), "" unknown
};

// Finds the loop whose wait call returned to `site` (a return address of the
// caller's, on this thread's stack): the run of frames from there outward
// that belong to `loop` (or to any known loop library), and the program's
// frame that called it. False, and no loop steps, when the loop was not run
// by the program's code (a library's own thread), when the frame is not on
// this thread's own stack (a coroutine's stack may be freed while we still
// look at it), or off x86-64. `out->cfa` is set when a frame was found all
// the same (a library's own loop), 0 otherwise.
bool find_loop_frame(std::uintptr_t site, const Loop& loop, LoopFrame* out);

// The first return address on the stack outside unclog and the sanitizer
// runtimes (their interceptors call our wait functions for the program).
std::uintptr_t caller_outside_runtimes();

}  // namespace unclog::loops
