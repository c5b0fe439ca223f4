// What the other layers (hub, calls, gtest_ext) use of the detector.
// Not installed.
#pragma once
#include <cstdint>

#include "config.hpp"
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
// handler or batch of callbacks: cheap when nothing changed (inline: a
// loop step begins twice per libuv run). A step may be running on it.
struct AttachedSlot {
  StepSlot* slot = nullptr;
  std::int64_t resolution_ns = 0;
  bool calls = false, traps = false;
};
extern __attribute__((tls_model("initial-exec"))) thread_local AttachedSlot t_attached;
StepSlot* attach_this_thread();
inline StepSlot* attached_slot() {
  const Config& c = config();
  if (!c.enabled.load(std::memory_order_relaxed)) return nullptr;
  const AttachedSlot& a = t_attached;
  if (a.slot && a.resolution_ns == c.resolution_ns.load(std::memory_order_relaxed) &&
      a.calls == c.call_reports.load(std::memory_order_relaxed) &&
      a.traps == c.syscall_traps.load(std::memory_order_relaxed)) [[likely]] {
    return a.slot;
  }
  return attach_this_thread();
}
// settle_loop_step() for the calling thread, if it has a slot: before a
// test ends or an EXPECT_*BLOCKING begins, a loop step whose loop has
// returned is ended and its report raised now, not inside what follows.
void settle_this_thread() noexcept;

// Call mode's syscall traps register how a thread switches them on
// (calls::trap::arm_thread); slot_for_new_hub() asks once per thread when
// call mode and traps are on, and sets the slot's trap_on_step.
void set_trap_arm(bool (*arm)() noexcept) noexcept;

}  // namespace unclog::watch
