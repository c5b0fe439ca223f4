// Syscall-level call mode: while a watched step runs, every system call the
// thread makes is trapped with Syscall User Dispatch (Linux 5.11+, x86-64)
// and judged by the same classification as the interposed libc functions,
// so blocking hidden inside libc (fread on a pipe, a contended rwlock),
// raw syscall(2)s and libraries with their own system calls are seen too.
//
// How: prctl(PR_SET_SYSCALL_USER_DISPATCH) is switched on once per thread
// (lazily, when a watched loop starts there) with a selector byte in TLS,
// watch::t_trap_selector. The kernel reads it before each system call: 0
// lets the call through, 1 raises SIGSYS instead. Steps set it to 1 only
// while they run (watch::step_begin, the hub's resume from its loop) and
// back to 0 when they end, so calls outside steps, the hub's own calls and
// unwatched threads cost nothing beyond the kernel's check of the byte.
// Our stubs (the re-issuing syscall and the signal restorer) sit in one
// code region the kernel always lets through.
//
// The SIGSYS handler (trap.cpp, on_sigsys) is async-signal-safe in the
// sense that matters: it runs synchronously at the trapped call, allocates
// nothing and takes no lock. It sets the selector to 0 while it runs (its
// own calls, and handlers of signals that nest inside it, go through),
// records the call when it can block, re-issues it and returns its exact
// result (errno, partial reads, EINTR and restarts as without us). A few
// calls cannot be re-issued from a handler and are emulated or re-run in
// place; see trap.cpp. A SIGSYS that is not ours (seccomp's
// SECCOMP_RET_TRAP) goes to the handler installed before ours.
//
// Thread-safety: all functions are for the calling thread's own state,
// except that installing the handler happens once per process.
#pragma once
#include <cstdint>
#include <signal.h>

namespace unclog::calls::trap {

// Switches dispatch on for the calling thread (once). Returns false, after
// saying why once on stderr, where it is unavailable: another architecture,
// a kernel before 5.11, a seccomp policy refusing the prctl, ThreadSanitizer,
// or a debugger attached (gdb would stop at each trapped call).
bool arm_thread() noexcept;

// Dispatch is on for this thread.
bool thread_armed() noexcept;

// The process has our SIGSYS handler (so sigaction must keep it, and every
// handler's mask must leave SIGSYS deliverable).
bool handler_installed() noexcept;

// For the interposed sigaction(SIGSYS, ...): the program's handler is kept
// as the one non-dispatch SIGSYS signals go to; ours stays installed.
int chain_sigsys(const struct sigaction* act, struct sigaction* old) noexcept;  // never fails; no allocation

// For the interposed pthread_sigmask/sigprocmask of an armed thread: SIGSYS
// must never be blocked there (a trapped call would then kill the process),
// so it is taken out of `set` (copied to *scratch). A mask read back shows
// SIGSYS unblocked, which it is. Returns the set to pass on.
const sigset_t* keep_sigsys_deliverable(int how, const sigset_t* set, sigset_t* scratch) noexcept;

// The same for a mask a call installs for its duration (sigsuspend, ppoll,
// pselect, epoll_pwait): on an armed thread, `mask` without SIGSYS.
const sigset_t* deliverable_mask(const sigset_t* mask, sigset_t* scratch) noexcept;

// A raw rt_sigaction or rt_sigprocmask (kernel structures, 8-byte sigset)
// made through libc's syscall() or trapped: carried out as the interposed
// sigaction/pthread_sigmask would (SIGSYS's disposition chained, SIGSYS
// kept deliverable). Returns the raw result (-errno on failure). No
// allocation; chaining SIGSYS takes a lock no signal path holds.
long raw_sigaction(const long args[6]) noexcept;
long raw_sigprocmask(const long args[6]) noexcept;

// ThreadSanitizer runs our interposed functions inside its "blocking call"
// window (the program's usleep, read, epoll_wait... reach TSan's
// interceptor first, and its real function is ours), where it runs a
// signal's handler at once. Our bookkeeping there calls back into TSan
// (malloc, fstat, the unwinder's pthread_once), and a signal landing inside
// TSan's runtime then deadlocked it (tests/hostile's TSan consumer: a 1 ms
// SIGALRM during a usleep's stack capture). Under TSan this holds every
// signal for its lifetime (two raw rt_sigprocmask calls); elsewhere it does
// nothing. Any thread; async-signal-safe.
class SignalsHeldUnderTsan {
 public:
  SignalsHeldUnderTsan() noexcept;
  ~SignalsHeldUnderTsan();
  SignalsHeldUnderTsan(const SignalsHeldUnderTsan&) = delete;
  SignalsHeldUnderTsan& operator=(const SignalsHeldUnderTsan&) = delete;

 private:
  bool held_ = false;
  std::uint64_t old_ = 0;
};

// How many of this thread's system calls dispatch has trapped so far (each
// a SIGSYS round trip): for tests and benchmarks. Calling thread only.
std::uint64_t trapped_calls_on_this_thread() noexcept;

// A bare SIGSYS round trip, for the benchmark: installs a minimal handler
// that only re-issues the call, measures `n` trapped getppid calls on this
// armed thread, restores ours and returns nanoseconds per call (0 when
// trapping is unavailable). Call it in a step well within the resolution:
// the minimal handler cannot take a sampling signal landing meanwhile (seen
// as a jump to address 0).
double bare_trap_ns(int n) noexcept;

}  // namespace unclog::calls::trap
