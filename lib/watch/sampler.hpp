// The sampling signal. The watchdog sends it (tgkill) to a thread whose step
// it is sampling; the handler appends the interrupted stack to the thread's
// slot.
//
// The handler is async-signal-safe: it touches only the thread's slot
// (initial-exec TLS, preallocated), calls clock_gettime and the unwinder
// (libgcc's _Unwind_Backtrace, lock-free on glibc >= 2.35 through
// _dl_find_object; warmed up at install), and preserves errno. It runs on the
// thread's alternate signal stack (SA_ONSTACK) with SA_RESTART.
#pragma once
#include <cstdint>

#include "step_slot.hpp"

namespace unclog::watch {

// Installs the handler on the first free real-time signal (one that has no
// handler yet; a user's handler is never replaced). Idempotent. Returns the
// signal, or 0 when none was free (reports then carry no stack).
int install_sampler() noexcept;
int sampler_signal() noexcept;

// Gives the calling thread an alternate signal stack if it has none, and
// points the handler at `slot`. Call on the slot's own thread.
void bind_sampler(StepSlot* slot) noexcept;
void unbind_sampler() noexcept;

// Captures the calling thread's stack (innermost first) into `out`; usable
// outside a handler too, then leaving out its `skip` innermost callers.
// Returns the number of frames.
int capture_stack(std::uintptr_t* out, int max, bool from_signal, int skip = 0) noexcept;

// The slot the calling thread's handler writes to (set by bind_sampler):
// call mode's fast check. Initial-exec TLS: one %fs load.
extern __attribute__((tls_model("initial-exec"))) constinit thread_local StepSlot* t_bound_slot;

}  // namespace unclog::watch
