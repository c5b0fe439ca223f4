// The interposed signal functions. Where system calls are trapped, SIGSYS
// must stay ours and deliverable: a trapped call with SIGSYS blocked or
// ignored kills the process (the kernel forces the default action). Every
// libc route that changes a disposition or a mask goes through here: the
// program's SIGSYS disposition is kept as the one SIGSYS that is not ours
// goes to, and SIGSYS is taken out of the masks of armed threads (the
// masks handlers run with, masks restored by siglongjmp and setcontext,
// the temporary masks of sigsuspend, ppoll, pselect and epoll_pwait).
// Raw system calls are handled where they are seen: syscall() in
// interpose.cpp, trapped ones in trap.cpp.
#include <setjmp.h>
#include <signal.h>
#include <ucontext.h>

#include "classify.hpp"
#include "fiber/alt_stack.hpp"
#include "hub/overflow.hpp"
#include "real.hpp"
#include "trap.hpp"
#include "watch/sampler.hpp"

using namespace unclog::calls;

// Legacy System V and BSD entry points that glibc still exports; not all of
// them are declared by its headers any more.
extern "C" {
sighandler_t bsd_signal(int, sighandler_t) noexcept;  // as glibc declares them (__THROW)
sighandler_t sysv_signal(int, sighandler_t) noexcept;
}

namespace {

sigset_t only(int sig) {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, sig);
  return s;
}

// signal()-style: install `handler` with `flags`, return the old handler.
sighandler_t set_handler(int sig, sighandler_t handler, int flags) {
  struct sigaction act {}, old{};
  act.sa_handler = handler;
  act.sa_flags = flags;
  sigemptyset(&act.sa_mask);
  if (sigaction(sig, &act, &old) != 0) return SIG_ERR;
  return old.sa_handler;
}

// sigaction as the program asked, SIGSYS and SIGSYS-blocking masks kept ours.
int install_disposition(int sig, const struct sigaction* act, struct sigaction* old) {
  if (!trap::handler_installed()) return UNCLOG_REAL(sigaction)(sig, act, old);
  if (sig == SIGSYS) return trap::chain_sigsys(act, old);
  // A handler that blocked SIGSYS would be killed by its first trapped call.
  if (act && sigismember(&act->sa_mask, SIGSYS) == 1) {
    struct sigaction copy = *act;
    sigdelset(&copy.sa_mask, SIGSYS);
    return UNCLOG_REAL(sigaction)(sig, &copy, old);
  }
  return UNCLOG_REAL(sigaction)(sig, act, old);
}

}  // namespace

extern "C" {

int sigaction(int sig, const struct sigaction* act, struct sigaction* old) {
  // The watchdog's sampling signal is one no handler had when we took it;
  // the program sees it so: free (SIG_DFL) when it asks, and its own once
  // it installs a disposition, the sampler moving to another signal.
  if (sig != 0 && sig == unclog::watch::sampler_signal()) [[unlikely]] {
    // SIG_DFL is what the program already sees (code that resets every
    // signal, as before an exec, would otherwise chase us through them all).
    const bool to_default = act && !(act->sa_flags & SA_SIGINFO) && act->sa_handler == SIG_DFL;
    if (act && !to_default) {
      unclog::watch::hand_over_sampler_signal(sig);
      if (install_disposition(sig, act, nullptr) != 0) return -1;
    }
    if (old) {
      *old = {};
      old->sa_handler = SIG_DFL;
    }
    return 0;
  }
  if ((sig == SIGSEGV || sig == SIGBUS) && unclog::detail::overflow_handler_installed()) {
    return unclog::detail::program_fault_action(sig, act, old);
  }
  return install_disposition(sig, act, old);
}

sighandler_t signal(int sig, sighandler_t handler) {
  // glibc's signal() reaches the kernel without passing through our sigaction.
  if ((sig == SIGSYS && trap::handler_installed()) || (sig != 0 && sig == unclog::watch::sampler_signal()) ||
      ((sig == SIGSEGV || sig == SIGBUS) && unclog::detail::overflow_handler_installed())) {
    return set_handler(sig, handler, SA_RESTART);
  }
  return UNCLOG_REAL(signal)(sig, handler);
}

sighandler_t bsd_signal(int sig, sighandler_t handler) noexcept { return set_handler(sig, handler, SA_RESTART); }

sighandler_t sysv_signal(int sig, sighandler_t handler) noexcept {
  return set_handler(sig, handler, SA_RESETHAND | SA_NODEFER);
}

int sigignore(int sig) { return set_handler(sig, SIG_IGN, 0) == SIG_ERR ? -1 : 0; }

int siginterrupt(int sig, int interrupt) {
  struct sigaction act {};
  if (sigaction(sig, nullptr, &act) != 0) return -1;
  if (interrupt) act.sa_flags &= ~SA_RESTART; else act.sa_flags |= SA_RESTART;
  return sigaction(sig, &act, nullptr);
}

// Alternate stacks: ours reads as none, the program's replaces it
// (fiber/alt_stack.hpp).
int sigaltstack(const stack_t* ss, stack_t* old) { return unclog::fiber::program_sigaltstack(ss, old); }

int pthread_sigmask(int how, const sigset_t* set, sigset_t* old) {
  sigset_t scratch;
  return real_call(UNCLOG_REAL(pthread_sigmask), how, trap::keep_sigsys_deliverable(how, set, &scratch), old);
}

int sigprocmask(int how, const sigset_t* set, sigset_t* old) {
  sigset_t scratch;
  return real_call(UNCLOG_REAL(sigprocmask), how, trap::keep_sigsys_deliverable(how, set, &scratch), old);
}

int sighold(int sig) {
  const sigset_t s = only(sig);
  return pthread_sigmask(SIG_BLOCK, &s, nullptr) == 0 ? 0 : -1;
}

int sigrelse(int sig) {
  const sigset_t s = only(sig);
  return pthread_sigmask(SIG_UNBLOCK, &s, nullptr) == 0 ? 0 : -1;
}

sighandler_t sigset(int sig, sighandler_t disposition) {
  sigset_t before;
  if (pthread_sigmask(SIG_SETMASK, nullptr, &before) != 0) return SIG_ERR;
  const bool was_held = sigismember(&before, sig) == 1;
  const sigset_t s = only(sig);
  struct sigaction old {};
  if (disposition == SIG_HOLD) {
    if (sigaction(sig, nullptr, &old) != 0 || pthread_sigmask(SIG_BLOCK, &s, nullptr) != 0) return SIG_ERR;
  } else {
    struct sigaction act {};
    act.sa_handler = disposition;
    sigemptyset(&act.sa_mask);
    if (sigaction(sig, &act, &old) != 0 || pthread_sigmask(SIG_UNBLOCK, &s, nullptr) != 0) return SIG_ERR;
  }
  return was_held ? SIG_HOLD : old.sa_handler;
}

int sigsuspend(const sigset_t* mask) {
  sigset_t scratch;
  return UNCLOG_REAL(sigsuspend)(trap::deliverable_mask(mask, &scratch));
}

// What <signal.h> calls sigpause under _GNU_SOURCE: the X/Open one
// (__xpg_sigpause), which waits with `sig` removed from the mask.
int sigpause(int sig) {
  sigset_t mask;
  if (pthread_sigmask(SIG_SETMASK, nullptr, &mask) != 0) return -1;
  sigdelset(&mask, sig);
  return sigsuspend(&mask);
}

// The mask a jump or a context switch restores was saved before, perhaps
// before this thread trapped anything. A jump out of a signal handler also
// leaves the SIGSYS handler or an interposed call (each runs with the
// selector at 0) without restoring the selector: inside a watched step, the
// jump re-arms it. These frames are left by a jump: under AddressSanitizer
// they carry no redzones (whose poison would stay behind on the stack the
// program reuses) and tell ASan the stack unwinds, as its own interceptor
// did before calling us.
#define UNCLOG_JUMP_WRAPPER(fn, buf_type)                                                             \
  __attribute__((no_sanitize_address)) void fn(buf_type env, int value) {                             \
    if (trap::thread_armed()) {                                                                      \
      if (env[0].__mask_was_saved) sigdelset(&env[0].__saved_mask, SIGSYS);                         \
      if (unclog::watch::StepSlot* s = in_watched_step()) unclog::watch::t_trap_selector = s->trap_on_step; \
    }                                                                                                \
    if (__asan_handle_no_return) __asan_handle_no_return();                                          \
    UNCLOG_REAL(fn)(env, value);                                                                      \
    __builtin_unreachable();                                                                          \
  }
void __asan_handle_no_return() __attribute__((weak));
UNCLOG_JUMP_WRAPPER(siglongjmp, sigjmp_buf)
UNCLOG_JUMP_WRAPPER(longjmp, jmp_buf)
UNCLOG_JUMP_WRAPPER(_longjmp, jmp_buf)

__attribute__((no_sanitize_address)) int setcontext(const ucontext_t* context) {
  if (trap::thread_armed() && context) sigdelset(const_cast<sigset_t*>(&context->uc_sigmask), SIGSYS);
  return UNCLOG_REAL(setcontext)(context);
}

__attribute__((no_sanitize_address)) int swapcontext(ucontext_t* save, const ucontext_t* context) {
  if (trap::thread_armed() && context) sigdelset(const_cast<sigset_t*>(&context->uc_sigmask), SIGSYS);
  return UNCLOG_REAL(swapcontext)(save, context);
}

}  // extern "C"
