// Turns a slot's scheduler statistics and samples into a BlockingReport:
// durations, classification, symbolized stacks, the first user frame.
// Runs on the owning thread after the step (or on the watchdog for hangs);
// never in a signal handler.
#pragma once
#include "step_slot.hpp"
#include "unclog/watch.hpp"

namespace unclog::watch {

// Durations and kind only: cheap, so that a report can be dropped before
// any stack is symbolized. `timed`: the slot's base belongs to this step
// (the durations are known).
BlockingReport build_report(const StepSlot& slot, const SchedStat& end, const char* label, bool hang,
                            bool timed = true);

// Appends the signal's samples, symbolized, and locates the user's frame.
// `base_wall_ns`: when the watchdog's clock for the step began.
void add_signal_samples(BlockingReport& report, const Sample* samples, int n, std::int64_t base_wall_ns);

// blocked / cpu / preempted from the step's time split.
StallKind classify(std::int64_t wall_ns, std::int64_t on_cpu_ns, std::int64_t runqueue_ns,
                   std::int64_t resolution_ns, bool have_stats) noexcept;

}  // namespace unclog::watch
