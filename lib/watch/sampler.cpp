#include "sampler.hpp"

#include <errno.h>
#include <signal.h>
#include <sys/mman.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <unwind.h>

#include <atomic>
#include <cstddef>
#include <mutex>

#include "base/clock.hpp"
#include "fiber/alt_stack.hpp"
#include "fiber/raw_syscall.hpp"
#include "notices.hpp"
#include "visible_mutex.hpp"

namespace unclog::watch {
namespace {

std::atomic<int> g_signal{0};

struct Unwind {
  std::uintptr_t* out;
  int max;
  int n;
  bool skipping;  // in the handler's own frames, above the signal frame
  int skip;       // innermost frames left to leave out
};

_Unwind_Reason_Code on_frame(_Unwind_Context* ctx, void* arg) {
  auto* u = static_cast<Unwind*>(arg);
  int before_insn = 0;
  std::uintptr_t ip = _Unwind_GetIPInfo(ctx, &before_insn);
  if (u->skipping) {
    if (!before_insn) return _URC_NO_REASON;  // the handler, the trampoline
    u->skipping = false;                      // the interrupted frame
  }
  if (ip == 0) return _URC_END_OF_STACK;
  if (u->skip > 0) {
    --u->skip;
    return _URC_NO_REASON;
  }
  // A return address points after the call; step back into it so that the
  // line is the call's. The interrupted pc is exact.
  u->out[u->n++] = before_insn ? ip : ip - 1;
  return u->n == u->max ? _URC_END_OF_STACK : _URC_NO_REASON;
}

// Unwinding takes under 2 KiB of stack past the kernel's signal frame. A
// thread that had an alternate stack of its own keeps it (bind_sampler),
// and one of a few KiB has less than that left: a sample there is skipped,
// as overflowing it corrupts what lies below (heap metadata, for a 4 KiB
// one from malloc). sigaltstack is a plain system call in glibc.
#if defined(__SANITIZE_ADDRESS__)
constexpr std::ptrdiff_t kUnwindRoom = 12 * 1024;  // measured 4.1 KiB with ASan's redzones
#else
constexpr std::ptrdiff_t kUnwindRoom = 4 * 1024;  // measured 1.7 KiB, x86-64
#endif

__attribute__((no_sanitize("address"))) bool room_to_unwind() noexcept {
  stack_t ss;
  if (fiber::query_real(&ss) != 0 || !(ss.ss_flags & SS_ONSTACK)) return true;
  const char* here = static_cast<const char*>(__builtin_frame_address(0));
  return here - static_cast<const char*>(ss.ss_sp) >= kUnwindRoom;
}

// The watchdog's requests come with SI_QUEUE and this cookie
// (send_sample_request); anything else was sent by the program.
const int g_cookie = 0;

bool is_sample_request(const siginfo_t* si) noexcept {
  return si->si_code == SI_QUEUE && si->si_pid == getpid() && si->si_value.sival_ptr == &g_cookie;
}

// The handler's own system calls (getpid, sigaltstack) are ours: with the
// interrupted step's traps armed, each would raise SIGSYS, whose handler
// could sample the stack inside this one and report our frames as the step's.
struct TrapsOffInHandler {
  std::uint8_t saved = t_trap_selector;
  TrapsOffInHandler() noexcept { t_trap_selector = 0; }
  ~TrapsOffInHandler() { t_trap_selector = saved; }
};

// Async-signal-safe; see the header.
__attribute__((no_sanitize("address"))) void on_sample(int sig, siginfo_t* si, void*) {
  const TrapsOffInHandler traps_off;
  if (!is_sample_request(si)) [[unlikely]] {
    // The program raised the signal it sees as free (SIG_DFL): its default
    // action, termination, once this handler returns.
    fiber::reset_to_default(sig);
    fiber::raw_syscall4(SYS_tgkill, getpid(), gettid(), sig, 0);
    return;
  }
  const int saved_errno = errno;
  StepSlot* s = t_bound_slot;
  // A loop step whose loop has returned is over: nothing here is the loop's.
  if (s && loop_step_still_running(*s) && room_to_unwind()) {
    const std::uint64_t target = s->target.load(std::memory_order_acquire);
    const std::int32_t i = s->nsamples.load(std::memory_order_relaxed);
    if (target != 0 && s->seq.load(std::memory_order_relaxed) == target && i < kMaxSamples) {
      Sample& out = s->samples[i];
      out.at_ns = detail::monotonic_ns();
      out.nframes = capture_stack(out.frames, kMaxFrames, true);
      s->nsamples.store(i + 1, std::memory_order_release);
    }
  }
  errno = saved_errno;
}

}  // namespace

__attribute__((tls_model("initial-exec"))) constinit thread_local StepSlot* t_bound_slot = nullptr;

__attribute__((noinline)) int capture_stack(std::uintptr_t* out, int max, bool from_signal, int skip) noexcept {
  // +1: this function's own frame.
  Unwind u{out, max, 0, from_signal, from_signal ? 0 : skip + 1};
  _Unwind_Backtrace(on_frame, &u);
  if (u.n == 0 && from_signal) {  // no signal frame found: keep everything
    u = Unwind{out, max, 0, false, 0};
    _Unwind_Backtrace(on_frame, &u);
  }
  return u.n;
}

__attribute__((noinline)) void take_requested_sample(StepSlot& s, bool in_sigsys) noexcept {
  const int saved_errno = errno;  // the call's result is the caller's
  s.sample_request.store(0, std::memory_order_relaxed);
  if (!loop_step_still_running(s)) return;
  const std::int32_t i = s.nsamples.load(std::memory_order_relaxed);
  const std::uint64_t target = s.target.load(std::memory_order_acquire);
  if (i >= kMaxSamples || target == 0 || s.seq.load(std::memory_order_relaxed) != target) return;  // errno untouched
  // Claimed before it is written: a sampling signal landing meanwhile (a
  // hang) takes the next one instead of writing into this one.
  s.nsamples.store(i + 1, std::memory_order_release);
  Sample& out = s.samples[i];
  out.at_ns = detail::monotonic_ns();
  // Not in the SIGSYS handler: leave out CallWindow::close, which called us.
  out.nframes = in_sigsys ? capture_stack(out.frames, kMaxFrames, true) : capture_stack(out.frames, kMaxFrames, false, 1);
  errno = saved_errno;
}

// Takes the first real-time signal from `first` on that has no handler,
// other than `skip`; 0 when there is none.
int take_free_signal(int first, int skip) noexcept {
  for (int sig = first; sig <= SIGRTMAX; ++sig) {
    if (sig == skip) continue;
    struct sigaction old {};
    if (sigaction(sig, nullptr, &old) != 0) continue;
    const bool free = !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL;
    if (!free) continue;
    struct sigaction sa {};
    sa.sa_sigaction = on_sample;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, nullptr) == 0) return sig;
  }
  return 0;
}

constexpr const char* kNoFreeSignal =
    "every real-time signal has a handler of the program's: stalls are reported without the stack inside the step";

int install_sampler() noexcept {
  static std::once_flag once;
  std::call_once(once, [] {
    std::uintptr_t warm[4];
    capture_stack(warm, 4, false);  // loads and primes the unwinder
    g_signal.store(take_free_signal(SIGRTMIN + 2, 0));
    if (!g_signal.load()) notice_once(kNoFreeSignal);
  });
  return g_signal.load();
}

bool hand_over_sampler_signal(int sig) noexcept {
  static VisibleMutex mu;  // two threads claiming signals at once move us once each
  std::lock_guard lk(mu);
  if (sig == 0 || sig != g_signal.load()) return false;
  // Ours is left installed until the program's replaces it: a sample in
  // flight lands in our handler, not in the default action (termination).
  const int next = take_free_signal(SIGRTMIN + 2, sig);
  g_signal.store(next);
  if (!next) notice_once(kNoFreeSignal);
  return true;
}

bool send_sample_request(pid_t tid, int sig) noexcept {
  siginfo_t si{};
  si.si_signo = sig;
  si.si_code = SI_QUEUE;
  si.si_pid = getpid();
  si.si_uid = getuid();
  si.si_value.sival_ptr = const_cast<int*>(&g_cookie);
  return syscall(SYS_rt_tgsigqueueinfo, getpid(), tid, sig, &si) == 0;
}

int sampler_signal() noexcept { return g_signal.load(std::memory_order_relaxed); }

void bind_sampler(StepSlot* slot) noexcept {
  fiber::ensure_alt_stack();
  t_bound_slot = slot;
}

void unbind_sampler() noexcept {
  t_bound_slot = nullptr;
  fiber::release_alt_stack();
}

}  // namespace unclog::watch
