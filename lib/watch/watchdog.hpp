// The watchdog: one thread per process that scans the registered step slots
// a few times per resolution, signals a thread whose step overran, samples
// long stalls at a growing interval and handles hangs.
//
// Started lazily by ensure_watchdog(); stopped at exit; after fork() the
// child starts without one and starts its own when it needs it.
#pragma once
#include "step_slot.hpp"

namespace unclog::watch {

void ensure_watchdog();
void register_slot(StepSlot* slot);
void unregister_slot(StepSlot* slot);

// Builds the report of a hung step from the watchdog thread, runs the hang
// action and exits the process. Declared here for tests of the text only.
[[noreturn]] void hang_exit(StepSlot& slot);

}  // namespace unclog::watch
