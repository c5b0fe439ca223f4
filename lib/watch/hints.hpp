// The remedy a report names: what to call instead of the blocking call
// ("unclog::io::resolve() resolves without blocking the hub"), or
// unclog::offload for calls with no green counterpart. Thread-safe.
#pragma once
#include <string>

#include "unclog/watch.hpp"

namespace unclog::watch {

// "" when there is nothing better to say (a CPU hog: the code itself).
// `loop_hints`: the remedies of the loop that ran the step, in its own idiom
// (blocking, sleep, CPU hog, contended lock: step_slot.hpp); null entries:
// the hub's.
std::string hint_for(const BlockingReport& report, const char* const loop_hints[4] = nullptr);

// The remedies of a hand-marked loop (StepGuard, LoopWait).
extern const char* const kOwnLoopHints[4];

}  // namespace unclog::watch
