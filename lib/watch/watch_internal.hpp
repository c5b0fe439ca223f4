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
// The calling thread's slot, attached for steps (the watchdog running, the
// thread's traps armed) when the detector's settings changed since it last
// was; nullptr when detection is off. For loops that begin a step per
// handler or batch of callbacks: cheap when nothing changed. A step may be
// running on it.
StepSlot* attached_slot();
// settle_loop_step() for the calling thread, if it has a slot: before a
// test ends or an EXPECT_*BLOCKING begins, a loop step whose loop has
// returned is ended and its report raised now, not inside what follows.
void settle_this_thread() noexcept;

// Call mode's syscall traps register how a thread switches them on
// (calls::trap::arm_thread); slot_for_new_hub() asks once per thread when
// call mode and traps are on, and sets the slot's trap_on_step.
void set_trap_arm(bool (*arm)() noexcept) noexcept;

}  // namespace unclog::watch
