// What the other layers (hub, calls, gtest_ext) use of the detector.
// Not installed.
#pragma once
#include <cstdint>

#include "sinks.hpp"
#include "step_slot.hpp"
#include "unclog/watch.hpp"

namespace unclog::watch {

// The calling thread's slot, created and registered on first use.
StepSlot& thread_slot();
// The calling thread's slot if it has one (after fork: the only live one).
StepSlot* existing_thread_slot() noexcept;
// The slot a hub created now on this thread should mark steps in, or
// nullptr when detection is off. Starts the watchdog.
StepSlot* slot_for_new_hub();

// Call mode's syscall traps register how a thread switches them on
// (calls::trap::arm_thread); slot_for_new_hub() asks once per thread when
// call mode and traps are on, and sets the slot's trap_on_step.
void set_trap_arm(bool (*arm)() noexcept) noexcept;

}  // namespace unclog::watch
