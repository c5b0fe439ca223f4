// Turns a slot's samples and scheduler statistics into a BlockingReport:
// durations, classification, symbolized stacks, the first user frame.
// Runs on the owning thread after the step (or on the watchdog for hangs);
// never in a signal handler.
#pragma once
#include "step_slot.hpp"
#include "unclog/watch.hpp"

namespace unclog::watch {

// `timed`: the slot's base belongs to this step (the durations are known).
// The samples are the signal's; call mode puts its own sample first.
BlockingReport build_report(const StepSlot& slot, const SchedStat& end, const char* label, bool hang,
                            bool timed = true);

// blocked / cpu / preempted from the step's time split.
StallKind classify(std::int64_t wall_ns, std::int64_t on_cpu_ns, std::int64_t runqueue_ns,
                   std::int64_t resolution_ns, bool have_stats) noexcept;

}  // namespace unclog::watch
