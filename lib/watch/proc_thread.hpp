// What /proc says of one of our threads, read by the watchdog before it
// signals the thread or builds its report. Each call opens, reads and
// closes a small file: meant for overrunning steps, not for every step.
//
// Thread-safety: any thread. Not async-signal-safe. Never throws.
#pragma once
#include <sys/types.h>

#include <cstddef>

namespace unclog::watch {

// The first word of a /proc file, or of the text after "[<...>] " (a
// kernel stack line), up to '+', ' ' or a newline; "" when unreadable.
void read_first_word(const char* path, char* out, std::size_t size) noexcept;

// The thread is in a system call the kernel ends with EINTR when any
// handler runs, SA_RESTART or not (signal(7): poll, epoll_wait, select,
// nanosleep, io_uring_enter, ..., or restart_syscall, one of those
// resumed), or a read or write on a socket with SO_RCVTIMEO or SO_SNDTIMEO
// set, which signal(7) never restarts either. A thread there got past our interposed functions and traps (a
// raw `syscall` instruction, as liburing makes, or traps off), so no
// CallWindow covers it: a sampling signal would make the call fail.
bool in_unrestartable_wait(pid_t tid) noexcept;

// What the thread's status says against signalling it: a tracer (a
// debugger stops the program at each signal it is sent: gdb does at the
// real-time ones unless told otherwise, and `gdb -batch -ex run` then kills
// it), or `sig` blocked (it would stay pending, to be taken later by the
// program's sigwait or signalfd as a signal it never sent; not asked when
// `sig` is 0).
struct ThreadStatus {
  bool traced = false;
  bool blocks = false;
};
ThreadStatus thread_status(pid_t tid, int sig) noexcept;

}  // namespace unclog::watch
