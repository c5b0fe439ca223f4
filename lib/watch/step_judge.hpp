// Judging a finished step: whether it blocked (a call nobody allowed, or
// time past the resolution), and its report, symbolized and dispatched.
// The raw material is read where it lies: in the thread's slot when the
// step is judged at its end, or in a copy when it is judged later on our
// own thread (deferred_steps.hpp).
//
// Thread-safety: any thread; the evidence must not change meanwhile.
// Not for signal handlers (symbolizes, allocates).
#pragma once
#include <cstdint>

#include "step_slot.hpp"
#include "unclog/watch.hpp"

namespace unclog::watch {

struct StepEvidence {
  bool over = false;       // the watchdog found the step past the resolution
  bool loop_step = false;  // its report names the loop; its own machinery is the library's
  const CallRecord* calls = nullptr;  // call mode's records of this step
  int ncalls = 0;
  unsigned calls_total = 0;
  const Sample* samples = nullptr;    // the sampling signal's stacks
  int nsamples = 0;
  std::int64_t base_wall_ns = 0;      // when the watchdog's clock for the step began
  std::uintptr_t loop_ret = 0;        // a loop step: its loop's return address
  const char* loop_runner = "";
  const char* const* loop_hints = nullptr;  // the remedies in the loop's idiom (4), or null
};

// Whether judging would read a stack: false when every call is a loop
// library's own lock wait, known from the raw stack, and the step did not
// overrun: judge_step() would then drop the step without reading anything.
// Cheap (dladdr, no symbolizing).
bool judging_reads_stacks(const BlockingReport& report, const StepEvidence& e);

// One step, one report: the first blocking call nobody allowed, with the
// step's duration; else the time stall, if there was one. `report` comes
// from build_report(). Dispatches it, or drops it.
void judge_step(BlockingReport report, const StepEvidence& e);

}  // namespace unclog::watch
