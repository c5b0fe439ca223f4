// Debuggers and tracers (gdb, strace) stop the program at every SIGSYS, so
// syscall traps and a tracer do not mix: a thread is not armed while one is
// attached, and when one attaches later the watchdog notices it (a look at
// TracerPid a few times a second, only while some thread traps) and
// withdraws the traps of every thread for the rest of the run.
//
// Thread-safety: any thread. Not async-signal-safe.
#pragma once
#include <vector>

#include "step_slot.hpp"

namespace unclog::watch {

inline constexpr const char* kTracerNotice =
    "a debugger or tracer (gdb, strace) is attached, and would stop the program at each trapped call";

inline constexpr const char* kTracerSamplesNotice =
    "a debugger or tracer is attached: stalls are reported without the stack inside the step (a sampling "
    "signal would stop the program in the debugger)";

// TracerPid in the main thread's /proc status is not 0.
bool tracer_attached() noexcept;

// Traps were withdrawn because a tracer attached; no thread arms again.
bool traps_withdrawn() noexcept;

// Watchdog, under the registry lock, once per tick: when some slot traps
// and a tracer is attached (looked at every 200 ms at most), stops trapping
// in every slot (trap_on_step and the live selector to 0) and says so once.
void withdraw_traps_if_traced(const std::vector<StepSlot*>& slots, std::int64_t now_ns);

}  // namespace unclog::watch
