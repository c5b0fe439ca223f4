// Syscall User Dispatch: the allowed region, the SIGSYS handler, arming a
// thread. See trap.hpp for the contract.
#include "trap.hpp"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <new>

#include "base/runtime.hpp"
#include "classify.hpp"
#include "fd_modes.hpp"
#include "watch/call_report.hpp"
#include "watch/notices.hpp"
#include "watch/tracer.hpp"
#include "watch/watch_internal.hpp"

#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#define PR_SYS_DISPATCH_ON 1
#endif
#ifndef SYS_USER_DISPATCH
#define SYS_USER_DISPATCH 2
#endif

#if defined(__x86_64__)
#define UNCLOG_TRAPS 1
#endif

namespace unclog::calls::trap {
namespace {

// The kernel's struct for rt_sigaction (glibc's struct sigaction differs,
// and glibc's sigaction() always substitutes its own restorer).
struct KernelSigaction {
  void* handler;
  unsigned long flags;
  void (*restorer)();
  std::uint64_t mask;
};
constexpr unsigned long kSaRestorer = 0x04000000;
constexpr std::uint64_t bit(int sig) { return 1ull << (sig - 1); }

std::atomic<bool> g_installed{false};
void chain_kernel(const KernelSigaction* act, KernelSigaction* old) noexcept;
std::atomic<const KernelSigaction*> g_previous{nullptr};  // the program's SIGSYS action
std::mutex g_chain_mu;
__attribute__((tls_model("initial-exec"))) thread_local bool t_armed = false;


}  // namespace
}  // namespace unclog::calls::trap

#ifdef UNCLOG_TRAPS

// The region the kernel always lets through (PR_SET_SYSCALL_USER_DISPATCH's
// offset and length): our restorer and the stub that re-issues a trapped
// call. The kernel tests the address *after* a syscall instruction, so no
// syscall may be the region's last instruction. The restorer comes first,
// behind a nop that no unwind table covers: the unwinder looks up a return
// address minus one, and must find nothing there and fall back to
// recognizing the restorer by its bytes (glibc's own: movq $15,%rax;
// syscall), so that stacks captured in the handler go through its frame.
extern "C" {
long unclog_trap_syscall(long nr, long a0, long a1, long a2, long a3, long a4, long a5);
void unclog_trap_restorer();
extern const char unclog_trap_region_begin[];
extern const char unclog_trap_region_end[];
}
asm(R"(
  .pushsection .text.unclog_trap,"ax",@progbits
  .p2align 4
  .globl unclog_trap_region_begin
  .hidden unclog_trap_region_begin
unclog_trap_region_begin:
  nop
  .globl unclog_trap_restorer
  .hidden unclog_trap_restorer
  .type unclog_trap_restorer,@function
unclog_trap_restorer:
  .byte 0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00
  syscall
  ud2
  .size unclog_trap_restorer, .-unclog_trap_restorer
  .globl unclog_trap_syscall
  .hidden unclog_trap_syscall
  .type unclog_trap_syscall,@function
unclog_trap_syscall:
  .cfi_startproc
  movq %rdi, %rax
  movq %rsi, %rdi
  movq %rdx, %rsi
  movq %rcx, %rdx
  movq %r8, %r10
  movq %r9, %r8
  movq 8(%rsp), %r9
  syscall
  ret
  .cfi_endproc
  .size unclog_trap_syscall, .-unclog_trap_syscall
  ud2
  .globl unclog_trap_region_end
  .hidden unclog_trap_region_end
unclog_trap_region_end:
  .popsection
)");

namespace unclog::calls::trap {
namespace {

// The sanitizer runtimes' own system calls (UBSan probes memory with a write
// to a pipe) are not the program's: their code ranges, found at install.
struct Range {
  std::uintptr_t begin, end;
};
Range g_runtimes[8];
int g_nruntimes = 0;

int add_runtime(dl_phdr_info* info, std::size_t, void*) {
  const char* name = info->dlpi_name ? strrchr(info->dlpi_name, '/') : nullptr;
  name = name ? name + 1 : info->dlpi_name;
  if (!name || !(strncmp(name, "libasan", 7) == 0 || strncmp(name, "libubsan", 8) == 0 ||
                 strncmp(name, "liblsan", 7) == 0 || strncmp(name, "libhwasan", 9) == 0)) {
    return 0;
  }
  for (int i = 0; i < info->dlpi_phnum && g_nruntimes < 8; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X)) {
      g_runtimes[g_nruntimes++] = {info->dlpi_addr + ph.p_vaddr, info->dlpi_addr + ph.p_vaddr + ph.p_memsz};
    }
  }
  return 0;
}

bool in_runtime(std::uintptr_t pc) {
  for (int i = 0; i < g_nruntimes; ++i) {
    if (pc >= g_runtimes[i].begin && pc < g_runtimes[i].end) return true;
  }
  return false;
}

long reissue(long nr, const long a[6]) { return unclog_trap_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]); }

long set_action(const KernelSigaction* act, KernelSigaction* old) {
  return unclog_trap_syscall(SYS_rt_sigaction, SIGSYS, reinterpret_cast<long>(act), reinterpret_cast<long>(old), 8, 0, 0);
}

// How a trapped call is carried out.
enum class Route {
  reissue,      // from the handler, through our stub: the usual way
  in_place,     // re-run where it was made, untrapped: calls that create a
                // thread or process on a new or shared stack (the child would
                // return into the stub's frame), exec, and sigaltstack (which
                // the handler's return would undo); the rest of that step is
                // then seen by the interposed functions only
  sigreturn,    // a handler's return through a restorer not ours: emulated
  sigprocmask,  // changes the mask the handler's return restores: emulated
  sigaction,    // SIGSYS's disposition is chained, other masks keep SIGSYS out
};

Route route_of(long nr, const long a[6]) {
  switch (nr) {
    case SYS_rt_sigreturn: return Route::sigreturn;
    case SYS_rt_sigprocmask: return Route::sigprocmask;
    case SYS_rt_sigaction: return Route::sigaction;
    case SYS_clone: return (a[0] & CLONE_VM) || a[1] != 0 ? Route::in_place : Route::reissue;  // fork-like: a copy
    case SYS_clone3: case SYS_vfork: case SYS_execve: case SYS_execveat: return Route::in_place;
    // Only setting one: a query (ASan asks at every longjmp) changes nothing
    // the handler's return would undo.
    case SYS_sigaltstack: return a[0] != 0 ? Route::in_place : Route::reissue;
    default: return Route::reissue;
  }
}

// The trapped rt_sigreturn's frame is at the stack pointer (its restorer's
// ret popped the return address). Returning from our handler with that
// frame's context is what the kernel would have done with it.
void finish_foreign_sigreturn(ucontext_t* uc) {
  const auto* frame = reinterpret_cast<const ucontext_t*>(uc->uc_mcontext.gregs[REG_RSP]);
  uc->uc_flags = frame->uc_flags;
  uc->uc_stack = frame->uc_stack;
  uc->uc_mcontext = frame->uc_mcontext;  // the same 256 bytes as the kernel's sigcontext
  std::uint64_t mask;
  memcpy(&mask, &frame->uc_sigmask, sizeof mask);  // the kernel's sigset is 8 bytes
  mask &= ~bit(SIGSYS);
  memcpy(&uc->uc_sigmask, &mask, sizeof mask);
}

// rt_sigprocmask(how, set, old, size) on the mask the handler's return
// restores. SIGSYS stays deliverable: a trapped call with SIGSYS blocked
// would kill the process.
long emulate_sigprocmask(ucontext_t* uc, const long a[6]) {
  if (a[3] != 8) return -EINVAL;
  std::uint64_t shown;
  memcpy(&shown, &uc->uc_sigmask, sizeof shown);
  if (a[1]) {
    const std::uint64_t set = *reinterpret_cast<const std::uint64_t*>(a[1]);
    std::uint64_t next;
    switch (a[0]) {
      case SIG_BLOCK: next = shown | set; break;
      case SIG_UNBLOCK: next = shown & ~set; break;
      case SIG_SETMASK: next = set; break;
      default: return -EINVAL;
    }
    next &= ~(bit(SIGSYS) | bit(SIGKILL) | bit(SIGSTOP));
    memcpy(&uc->uc_sigmask, &next, sizeof next);
  }
  if (a[2]) *reinterpret_cast<std::uint64_t*>(a[2]) = shown;
  return 0;
}

// The temporary mask of a trapped call (a pointer argument, or pselect6's
// {mask, size} pair) without SIGSYS: a handler that ran during the call
// with SIGSYS blocked would die at its first trapped call.
void strip_call_mask(long nr, long b[6], std::uint64_t* scratch, long pair[2]) {
  int at;
  switch (nr) {
    case SYS_rt_sigsuspend: at = 0; break;
    case SYS_ppoll: at = 3; break;
    case SYS_epoll_pwait: case SYS_epoll_pwait2: at = 4; break;
    case SYS_pselect6: {
      if (!b[5]) return;
      const long* p = reinterpret_cast<const long*>(b[5]);
      if (!p[0] || p[1] != 8) return;
      *scratch = *reinterpret_cast<const std::uint64_t*>(p[0]) & ~bit(SIGSYS);
      pair[0] = reinterpret_cast<long>(scratch);
      pair[1] = 8;
      b[5] = reinterpret_cast<long>(pair);
      return;
    }
    default: return;
  }
  if (!b[at]) return;
  *scratch = *reinterpret_cast<const std::uint64_t*>(b[at]) & ~bit(SIGSYS);
  b[at] = reinterpret_cast<long>(scratch);
}

// A SIGSYS that is not dispatch's goes where it went before us.
void forward(int sig, siginfo_t* si, void* ctx) {
  const KernelSigaction* p = g_previous.load(std::memory_order_acquire);
  if (!p) return;
  if (p->flags & SA_SIGINFO) {
    reinterpret_cast<void (*)(int, siginfo_t*, void*)>(p->handler)(sig, si, ctx);
  } else if (p->handler == reinterpret_cast<void*>(SIG_DFL)) {
    // Die of it, as without us: the default action, and SIGSYS again (not
    // blocked here: SA_NODEFER).
    KernelSigaction dfl{};
    set_action(&dfl, nullptr);
    unclog_trap_syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGSYS, 0, 0, 0);
  } else if (p->handler != reinterpret_cast<void*>(SIG_IGN)) {
    reinterpret_cast<void (*)(int)>(p->handler)(sig);
  }
}

// Dispatch's traps of this thread (trapped_calls_on_this_thread).
__attribute__((tls_model("initial-exec"))) constinit thread_local std::uint64_t t_trapped_calls = 0;

// The handler. Synchronous at the trapped call; no allocation, no lock.
void on_sigsys(int sig, siginfo_t* si, void* ctx) {
  const std::uint8_t selector = watch::t_trap_selector;
  watch::t_trap_selector = 0;  // our calls, and handlers that nest here, go through
  int saved_errno = errno;
  auto* uc = static_cast<ucontext_t*>(ctx);
  greg_t* g = uc->uc_mcontext.gregs;
  const long nr = si->si_syscall;
  const long a[6] = {g[REG_RDI], g[REG_RSI], g[REG_RDX], g[REG_R10], g[REG_R8], g[REG_R9]};
  if (si->si_code != SYS_USER_DISPATCH) {
    forward(sig, si, ctx);
  } else {
    ++t_trapped_calls;
    switch (route_of(nr, a)) {
      case Route::in_place:
        g[REG_RIP] -= 2;  // back onto the 2-byte syscall instruction
        g[REG_RAX] = nr;
        errno = saved_errno;
        // With the selector at 0 for the rest of the step; its end takes
        // the slow path, where the next step is armed again.
        if (watch::StepSlot* s = watch::t_bound_slot) watch::request_check(*s);
        return;
      case Route::sigreturn: finish_foreign_sigreturn(uc); break;
      case Route::sigprocmask: g[REG_RAX] = emulate_sigprocmask(uc, a); break;
      case Route::sigaction: g[REG_RAX] = raw_sigaction(a); break;
      case Route::reissue: {
        if (watch::StepSlot* s = watching(); s && !in_runtime(static_cast<std::uintptr_t>(g[REG_RIP]))) {
          char what[watch::kCallText];
          if (blocking_syscall(nr, a, what, sizeof what)) watch::record_call(*s, what, /*trapped=*/true);
        }
        long b[6] = {a[0], a[1], a[2], a[3], a[4], a[5]};
        std::uint64_t mask;
        long pair[2];
        strip_call_mask(nr, b, &mask, pair);
        watch::CallWindow window;
        // A handler of the program's that runs during the call (a raise()
        // to this thread) may set errno: keep what it leaves, as the
        // system call alone would (our bookkeeping's is not kept).
        errno = saved_errno;
        g[REG_RAX] = reissue(nr, b);
        saved_errno = errno;
        window.close(/*in_sigsys=*/true);
        fd_modes::note_syscall(nr, a, g[REG_RAX]);
        break;
      }
    }
  }
  errno = saved_errno;
  // A loop step found over here (its loop had returned) leaves the thread untrapped.
  const watch::StepSlot* s = watch::t_bound_slot;
  watch::t_trap_selector = s && (s->seq.load(std::memory_order_relaxed) & 1) ? selector : 0;
}

bool install() {
  static std::once_flag once;
  std::call_once(once, [] {
    dl_iterate_phdr(add_runtime, nullptr);
    static KernelSigaction previous{};
    const KernelSigaction ours{reinterpret_cast<void*>(on_sigsys), SA_SIGINFO | SA_NODEFER | kSaRestorer,
                               unclog_trap_restorer, 0};
    if (set_action(&ours, &previous) == 0) {
      g_previous.store(&previous, std::memory_order_release);
      g_installed.store(true, std::memory_order_release);
    }
  });
  return g_installed.load(std::memory_order_acquire);
}

// Programs under which traps would kill or mislead, decided at run time
// (the library is built once, the program around it varies). Valgrind runs
// the program on its own CPU and passes the prctl to the kernel, which then
// traps valgrind's own system calls: SIGSYS at the first step. It preloads
// its vgpreload_*.so into every program it runs. ThreadSanitizer defers
// signals to its next interceptor, and a trapped call's SIGSYS must be
// handled at once. Empty when neither is here.
const char* hostile_runtime() {
  static const char* const why = [] {
    if (detail::under_valgrind()) return "valgrind runs the program, and would see its own system calls trapped";
    if (detail::under_tsan()) {
      return "ThreadSanitizer defers signals, and a trapped call's must be handled at once";
    }
    return "";
  }();
  return why;
}

void bare_handler(int, siginfo_t* si, void* ctx) {
  greg_t* g = static_cast<ucontext_t*>(ctx)->uc_mcontext.gregs;
  g[REG_RAX] = unclog_trap_syscall(si->si_syscall, g[REG_RDI], g[REG_RSI], g[REG_RDX], g[REG_R10], g[REG_R8], g[REG_R9]);
}

}  // namespace

SignalsHeldUnderTsan::SignalsHeldUnderTsan() noexcept {
  if (!detail::under_tsan()) [[likely]] return;
  const std::uint64_t all = ~std::uint64_t{0};
  held_ = unclog_trap_syscall(SYS_rt_sigprocmask, SIG_BLOCK, reinterpret_cast<long>(&all),
                              reinterpret_cast<long>(&old_), 8, 0, 0) == 0;
}

SignalsHeldUnderTsan::~SignalsHeldUnderTsan() {
  if (held_) unclog_trap_syscall(SYS_rt_sigprocmask, SIG_SETMASK, reinterpret_cast<long>(&old_), 0, 8, 0, 0);
}

bool arm_thread() noexcept {
  if (t_armed) return true;
  if (const char* why = hostile_runtime(); *why) {
    watch::notice_traps_off(why);
    return false;
  }
  if (watch::tracer_attached()) {
    watch::notice_traps_off(watch::kTracerNotice);
    return false;
  }
  if (!install()) {
    watch::notice_traps_off("installing the SIGSYS handler failed");
    return false;
  }
  // A thread that blocks SIGSYS would be killed by its first trapped call.
  sigset_t mask;
  if (pthread_sigmask(SIG_SETMASK, nullptr, &mask) == 0 && sigismember(&mask, SIGSYS)) {
    sigset_t sys;
    sigemptyset(&sys);
    sigaddset(&sys, SIGSYS);
    pthread_sigmask(SIG_UNBLOCK, &sys, nullptr);
  }
  const auto begin = reinterpret_cast<unsigned long>(unclog_trap_region_begin);
  const auto length = reinterpret_cast<unsigned long>(unclog_trap_region_end) - begin;
  if (prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, begin, length,
            reinterpret_cast<unsigned long>(const_cast<std::uint8_t*>(&watch::t_trap_selector))) != 0) {
    char why[160];
    snprintf(why, sizeof why, "Syscall User Dispatch refused: %s; it needs Linux 5.11+ and no seccomp policy against it",
             strerrordesc_np(errno));
    watch::notice_traps_off(why);
    return false;
  }
  t_armed = true;
  return true;
}

long raw_sigaction(const long a[6]) noexcept {
  const int sig = static_cast<int>(a[0]);
  const auto* act = reinterpret_cast<const KernelSigaction*>(a[1]);
  auto* old = reinterpret_cast<KernelSigaction*>(a[2]);
  if (a[3] != 8) return unclog_trap_syscall(SYS_rt_sigaction, a[0], a[1], a[2], a[3], 0, 0);
  if (sig == SIGSYS && g_installed.load(std::memory_order_acquire)) {
    chain_kernel(act, old);
    return 0;
  }
  if (act && (act->mask & bit(SIGSYS))) {
    KernelSigaction copy = *act;
    copy.mask &= ~bit(SIGSYS);
    return unclog_trap_syscall(SYS_rt_sigaction, a[0], reinterpret_cast<long>(&copy), a[2], 8, 0, 0);
  }
  return unclog_trap_syscall(SYS_rt_sigaction, a[0], a[1], a[2], a[3], 0, 0);
}

long raw_sigprocmask(const long a[6]) noexcept {
  std::uint64_t set;
  if (t_armed && a[1] && a[3] == 8 && a[0] != SIG_UNBLOCK) {
    set = *reinterpret_cast<const std::uint64_t*>(a[1]) & ~bit(SIGSYS);
    return unclog_trap_syscall(SYS_rt_sigprocmask, a[0], reinterpret_cast<long>(&set), a[2], 8, 0, 0);
  }
  return unclog_trap_syscall(SYS_rt_sigprocmask, a[0], a[1], a[2], a[3], 0, 0);
}

std::uint64_t trapped_calls_on_this_thread() noexcept { return t_trapped_calls; }

double bare_trap_ns(int n) noexcept {
  if (!t_armed || n <= 0) return 0;
  const KernelSigaction bare{reinterpret_cast<void*>(bare_handler), SA_SIGINFO | SA_NODEFER | kSaRestorer,
                             unclog_trap_restorer, 0};
  KernelSigaction saved{};
  set_action(&bare, &saved);
  const std::uint8_t before = watch::t_trap_selector;
  timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);  // the vDSO: no system call
  watch::t_trap_selector = 1;
  for (int i = 0; i < n; ++i) (void)getppid();
  watch::t_trap_selector = before;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  set_action(&saved, nullptr);
  return ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / n;
}

}  // namespace unclog::calls::trap

#else  // no traps on this platform or under ThreadSanitizer

namespace unclog::calls::trap {

bool arm_thread() noexcept {
  watch::notice_traps_off("Syscall User Dispatch is supported on x86-64 only");
  return false;
}
double bare_trap_ns(int) noexcept { return 0; }
// Never called here: no thread is armed and no handler installed.
long raw_sigaction(const long[6]) noexcept { return -ENOSYS; }
long raw_sigprocmask(const long[6]) noexcept { return -ENOSYS; }

}  // namespace unclog::calls::trap

#endif

namespace unclog::calls::trap {

bool thread_armed() noexcept { return t_armed; }
bool handler_installed() noexcept { return g_installed.load(std::memory_order_relaxed); }

namespace {

// The program's SIGSYS action, kept in the kernel's form for the SIGSYS
// that is not ours (forward). Entries come from a ring, not the heap: the
// action before stays readable (a handler may be reading it) for the next
// 15 changes; nothing leaks, nothing allocates.
void chain_kernel(const KernelSigaction* act, KernelSigaction* old) noexcept {
  std::lock_guard lk(g_chain_mu);
  const KernelSigaction* prev = g_previous.load(std::memory_order_acquire);
  if (old) *old = prev ? *prev : KernelSigaction{};
  if (act) {
    static KernelSigaction ring[16];
    static unsigned next_in_ring = 0;
    KernelSigaction* next = &ring[next_in_ring++ % 16];
    *next = *act;
    next->flags &= ~kSaRestorer;
    next->restorer = nullptr;
    g_previous.store(next, std::memory_order_release);
  }
}

}  // namespace

int chain_sigsys(const struct sigaction* act, struct sigaction* old) noexcept {
  KernelSigaction in{}, out{};
  if (act) {
    in.handler = (act->sa_flags & SA_SIGINFO) ? reinterpret_cast<void*>(act->sa_sigaction)
                                              : reinterpret_cast<void*>(act->sa_handler);
    in.flags = static_cast<unsigned long>(act->sa_flags);
    memcpy(&in.mask, &act->sa_mask, sizeof in.mask);
  }
  chain_kernel(act ? &in : nullptr, old ? &out : nullptr);
  if (old) {
    memset(old, 0, sizeof *old);
    old->sa_flags = static_cast<int>(out.flags);
    if (out.flags & SA_SIGINFO) {
      old->sa_sigaction = reinterpret_cast<void (*)(int, siginfo_t*, void*)>(out.handler);
    } else {
      old->sa_handler = reinterpret_cast<void (*)(int)>(out.handler);
    }
    memcpy(&old->sa_mask, &out.mask, sizeof out.mask);
  }
  return 0;
}

const sigset_t* deliverable_mask(const sigset_t* mask, sigset_t* scratch) noexcept {
  if (!t_armed || !mask || sigismember(mask, SIGSYS) != 1) return mask;
  *scratch = *mask;
  sigdelset(scratch, SIGSYS);
  return scratch;
}

const sigset_t* keep_sigsys_deliverable(int how, const sigset_t* set, sigset_t* scratch) noexcept {
  return how == SIG_UNBLOCK ? set : deliverable_mask(set, scratch);
}

[[maybe_unused]] const bool registered = (watch::set_trap_arm(&arm_thread), true);

}  // namespace unclog::calls::trap
