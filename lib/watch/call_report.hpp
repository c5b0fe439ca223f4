// Call mode's side of the detector: recording a blocking call made during a
// step (owner thread, inside the call), and turning the records into the
// step's report at its end. The interposed functions live in lib/calls.
#pragma once
#include "step_slot.hpp"
#include "unclog/watch.hpp"

namespace unclog::watch {

// Records a blocking call made by the running step of this thread, with the
// stack right here, and marks the step for the slow path. `what` is copied.
// `trapped`: called from the SIGSYS handler of a trapped system call; the
// stack then starts at the interrupted system call. No allocation, no lock:
// safe in that handler, which runs synchronously at the call.
void record_call(StepSlot& slot, const char* what, bool trapped = false) noexcept;

// The frames of a stack captured in our own code (a call window, an
// interposed function, the sampling handler) as a user reads them: our
// frames at the inner end are left out, except an interposed function named
// like libc's, kept as the call the user made; so is the kernel's signal
// return trampoline after our handler. Symbolizes (not for handlers).
std::vector<StackFrame> user_facing_frames(const std::uintptr_t* pcs, int n);

// Turns `report` into the report of the first recorded call whose stack has
// no allowed function (built-in allowances: GoogleTest, the dynamic loader),
// its stack first among the samples; returns false when every call was
// allowed. The caller locates the user's frame once all samples are in.
bool add_first_unallowed_call(BlockingReport& report, const CallRecord* calls, int n, unsigned total);

// Whether every record is a lock wait a loop library took for itself,
// told from the raw stack alone (dladdr: no debug information read).
bool all_loop_library_locks(const CallRecord* calls, int n);

// Whether an off-CPU time stall's stack (innermost first) waits on behalf of the
// runtime (the built-in allowances: GoogleTest, the dynamic loader, a loop
// library starting its thread pool), between the wait and the user's first
// frame: such a stall is not the user's code, however long it took.
bool stall_allowed(const std::vector<StackFrame>& frames);

}  // namespace unclog::watch
