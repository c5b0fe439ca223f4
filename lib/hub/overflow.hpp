// Fiber stack overflow: a fault in the guard page below a fiber's stack is
// reported as
//   unclog: fiber "NAME" overflowed its N KiB stack
// with the raw stack (glibc's backtrace_symbols_fd), then the previous
// SIGSEGV/SIGBUS action runs (a user's or ASan's handler, or the default:
// the process dies as it would have).
//
// The handler is async-signal-safe: it reads the hub of its own thread,
// formats into a stack buffer and calls write(2), backtrace() (warmed up at
// install, so it loads nothing) and backtrace_symbols_fd (no malloc). It runs
// on the thread's alternate signal stack: a thread running a hub has one.
#pragma once
#include <signal.h>

namespace unclog::detail {

class Hub;
struct Fiber;

// Installs the handler once per process and gives the calling thread an
// alternate signal stack if it has none. Called by Hub::run.
void install_overflow_handler();

// Once ours is installed, the program's SIGSEGV and SIGBUS actions are kept
// here (the interposed sigaction and signal route them): it reads what it
// set, and our handler runs it for any fault that is not a fiber's
// overflow, and for every signal that was sent (SI_USER, SI_TKILL,
// SI_QUEUE), default actions included. Never fails.
bool overflow_handler_installed() noexcept;
int program_fault_action(int sig, const struct sigaction* act, struct sigaction* old) noexcept;

// The fiber the calling thread's hub is running, for the handler.
Fiber* running_fiber_for_signal() noexcept;

}  // namespace unclog::detail
