// The alternate signal stack unclog gives a thread that runs watched steps
// and has none of its own: our handlers (the sampler, the fiber-overflow
// handler) run on it, whatever stack the step was on.
//
// Invisible to the program: sigaltstack() (interposed, lib/calls) reports
// no alternate stack where only ours is installed, and a stack the program
// installs replaces ours. Ours reserves as much as a thread's stack (8 MiB,
// touched pages only, a guard page below): a program's SA_ONSTACK handler,
// which would have run on the thread's stack without us, runs here with the
// same room.
//
// Thread-safety: each function acts on the calling thread's stack only.
// in_use_by_us() and query_real() are async-signal-safe.
#pragma once
#include <signal.h>

namespace unclog::fiber {

// Installs ours when the thread has no alternate stack. Idempotent.
void ensure_alt_stack() noexcept;
// Removes ours (the thread is about to exit or stop being watched).
void release_alt_stack() noexcept;

// The kernel's answer, bypassing the interposed sigaltstack.
int query_real(stack_t* old) noexcept;

// sigaltstack() as the program sees it (the interposer calls this).
int program_sigaltstack(const stack_t* ss, stack_t* old) noexcept;

}  // namespace unclog::fiber
