// The sampling signal, and samples taken at a call's return. The watchdog
// sends the signal (tgkill) to a thread whose step it is sampling; the
// handler appends the interrupted stack to the thread's slot.
//
// The handler is async-signal-safe: it touches only the thread's slot
// (initial-exec TLS, preallocated), calls sigaltstack, clock_gettime and the
// unwinder (libgcc's _Unwind_Backtrace, lock-free on glibc >= 2.35 through
// _dl_find_object; warmed up at install), and preserves errno. It runs on the
// thread's alternate signal stack (SA_ONSTACK) with SA_RESTART, and unwinds
// only when 4 KiB of that stack are left.
#pragma once
#include <cstdint>

#include "step_slot.hpp"

namespace unclog::watch {

// Installs the handler on the first free real-time signal (one that has no
// handler yet; a user's handler is never replaced). Idempotent. Returns the
// signal, or 0 when none was free (reports then carry no stack).
int install_sampler() noexcept;
// Sends the sampling signal to thread `tid` as the watchdog's request
// (SI_QUEUE with our cookie): the handler tells it from the same signal
// raised by the program, which gets the default action.
bool send_sample_request(pid_t tid, int sig) noexcept;
int sampler_signal() noexcept;

// The program is about to install a disposition for `sig`. When that is our
// signal, the handler moves to the next free real-time signal (or to none:
// reports then carry no stack, said once) and the program gets `sig` as if
// we had never had it. Returns true when `sig` was ours. Any thread; not
// async-signal-safe. A sample the watchdog was sending at that instant may
// still reach the program's handler once.
bool hand_over_sampler_signal(int sig) noexcept;

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

// Takes the sample the watchdog asked for while the thread was inside a call
// (see CallWindow), with the call's frame still on the stack. Owner thread;
// `in_sigsys`: from the SIGSYS handler (the stack starts at its signal
// frame), else the caller's frame and its own are left out. errno is kept.
void take_requested_sample(StepSlot& slot, bool in_sigsys) noexcept;

// Brackets a real call made by an interposed function or the SIGSYS
// handler during a watched step. While one is open the watchdog does not
// signal the thread (the signal would cut the call short with EINTR, which
// the program would not see without us); it asks for a sample instead,
// taken here when the call returns. Nestable. Owner thread; two byte stores
// and a load outside steps' slow paths.
class CallWindow {
 public:
  CallWindow() noexcept : slot_(t_bound_slot) {
    if (!slot_) [[likely]] return;
    seq_ = slot_->seq.load(std::memory_order_relaxed);
    if (!(seq_ & 1)) {
      slot_ = nullptr;
      return;
    }
    slot_->in_call.store(slot_->in_call.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  // Call right after the real call returns, in the frame that made it.
  void close(bool in_sigsys = false) noexcept {
    if (!slot_) return;
    slot_->in_call.store(slot_->in_call.load(std::memory_order_relaxed) - 1, std::memory_order_release);
    if (slot_->sample_request.load(std::memory_order_acquire) == seq_) [[unlikely]] {
      take_requested_sample(*slot_, in_sigsys);
    }
    slot_ = nullptr;
  }
  ~CallWindow() { close(); }
  CallWindow(const CallWindow&) = delete;
  CallWindow& operator=(const CallWindow&) = delete;

 private:
  StepSlot* slot_;
  std::uint64_t seq_ = 0;
};

}  // namespace unclog::watch
