#include "loop_steps.hpp"

#include <dlfcn.h>

#include <atomic>
#include <cstdio>

#include "base/runtime.hpp"
#include "base/tsan_sync.hpp"
#include "calls/classify.hpp"
#include "calls/loop_waits.hpp"
#include "loop_frame.hpp"
#include "unclog/hub.hpp"
#include "unclog/loops.hpp"
#include "watch/config.hpp"
#include "watch/deferred_steps.hpp"
#include "watch/notices.hpp"
#include "watch/trace.hpp"
#include "watch/watch_internal.hpp"

namespace unclog::loops {
namespace {

// When the running loop step began, while tracing (--unclog_trace).
thread_local std::int64_t t_began_ns = 0;

}  // namespace

void end_loop_step(watch::StepSlot& s) {
  s.in_loop_step.store(0, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  const std::uint64_t step = watch::step_end(&s);
  if (watch::trace::on()) [[unlikely]] {
    watch::trace::t_track = watch::trace::record_loop_step(s.loop_runner, s.loop_label, t_began_ns, watch::trace::now_ns());
  }
  if (step) watch::finish_step(s, step, s.loop_label, nullptr, true);
}

namespace {

// A wait inside another step: the part of the step before it is reported
// now if it blocked, so that each batch of callbacks is judged on its own.
// In a hub fiber the hub reports it on its own stack when the fiber yields;
// elsewhere (an Asio handler, a StepGuard) the step ends and begins again here.
void report_part_before(watch::StepSlot& s) {
  const std::uint64_t seq = s.seq.load(std::memory_order_relaxed);
  if (s.target.load(std::memory_order_acquire) != seq) return;
  if (unclog::in_fiber()) {
    try {
      unclog::yield();
    } catch (...) {
      // Cancelled: the wait goes on; the cancellation is the fiber's next wait's.
    }
    return;
  }
  if (const std::uint64_t step = watch::step_end(&s)) watch::finish_step(s, step, watch::running_label(s));
  watch::step_begin(&s);
}

}  // namespace

void name_loop(watch::StepSlot& s, const LoopFrame& f, const char* runner) {
  if (runner) {
    std::snprintf(s.loop_runner, sizeof s.loop_runner, "%s", runner);
  } else {
    std::snprintf(s.loop_runner, sizeof s.loop_runner, "%s loop", f.loop->name);
  }
  if (f.entry[0]) {
    std::snprintf(s.loop_label, sizeof s.loop_label, "%s (thread %d)", f.entry, static_cast<int>(s.tid));
  } else {
    std::snprintf(s.loop_label, sizeof s.loop_label, "thread %d", static_cast<int>(s.tid));
  }
  s.loop_kind = f.loop;
  detail::tsan_release(s.loop_label);  // read by the watchdog for a hang (build_report)
}

namespace {

// Finding the loop's frame unwinds and reads ELF symbols: 15-75 us, also
// after a condition wait, whose waiter holds its mutex again (Asio's
// scheduler lock). Judging the step before it may take far longer: see
// watch/deferred_steps.hpp.
void begin_loop_step(const Loop& loop, std::uintptr_t site, const char* runner) {
  watch::StepSlot* s = watch::attached_slot();
  if (!s) return;
  if (s->orphan_seq || s->in_loop_step.load(std::memory_order_relaxed)) [[unlikely]] watch::settle_loop_step(*s);
  if (s->seq.load(std::memory_order_relaxed) & 1) return;
  // The same run of the same loop as the last step: its frame is still live
  // and outside ours. Else unwind once to find it.
  const auto sp = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
  // A frame an entry hook set belongs to every wait of its run (Qt's run
  // waits in GLib's poll).
  const bool same_loop = s->loop_site == &loop || s->loop_by_entry;
  if (!(s->loop_cfa && same_loop && sp < s->loop_cfa && watch::loop_frame_live(*s))) {
    LoopFrame f;
    const bool programs = find_loop_frame(site, loop, &f);
    s->loop_cfa = f.cfa;  // 0 when there is no frame to check
    s->loop_ret = f.ret;
    s->loop_site = &loop;
    s->loop_refused = !programs;
    s->loop_by_entry = 0;
    if (programs) name_loop(*s, f, runner);
  }
  if (!s->loop_cfa || s->loop_refused) return;
  start_step_on_frame(*s);
}

std::atomic<bool> g_asio_tracked{false};

}  // namespace

void start_step_on_frame(watch::StepSlot& slot) {
  watch::StepSlot* s = &slot;
  // Names and remedies, unless this loop's are still there (another kind
  // of step, or another loop, replaces the runner too).
  if (s->runner.load(std::memory_order_relaxed) != s->loop_runner || s->loop_hints[0] != static_cast<const Loop*>(s->loop_kind)->hint) [[unlikely]] {
    const auto* kind = static_cast<const Loop*>(s->loop_kind);
    s->label_of.store(nullptr, std::memory_order_relaxed);
    s->label.store(s->loop_label, std::memory_order_relaxed);
    s->runner.store(s->loop_runner, std::memory_order_relaxed);
    s->loop_hints[0] = kind->hint;
    s->loop_hints[1] = kind->sleep_hint;
    s->loop_hints[2] = kind->cpu_hint;
    s->loop_hints[3] = kind->lock_hint;
  }
  s->in_loop_step.store(1, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if (watch::trace::on()) [[unlikely]] t_began_ns = watch::trace::now_ns();
  watch::step_begin(s);
}

void note_asio_handlers_tracked() noexcept {
  if (!g_asio_tracked.load(std::memory_order_relaxed)) g_asio_tracked.store(true, std::memory_order_relaxed);
}
bool asio_handlers_tracked(const Loop& loop) noexcept {
  return &loop == &asio_loop() && g_asio_tracked.load(std::memory_order_relaxed);
}

void end_loop_step_here(watch::StepSlot& s) {
  if (watch::loop_frame_live(s)) end_loop_step(s); else watch::settle_loop_step(s);
}

WaitSite loop_wait_site(std::uintptr_t return_address, bool fd_wait) noexcept {
  const watch::Config& c = watch::config();
  if (!c.enabled.load(std::memory_order_relaxed)) [[likely]] return {};
  if (!c.loop_steps.load(std::memory_order_relaxed) && !calls::in_watched_step()) return {};
  const Loop* judged = nullptr;
  if (loop_of_judged_wait(return_address, &judged)) [[likely]] return {judged, return_address};
  // Our own waits first: the watchdog must not wait on the loader's lock
  // (libbacktrace holds it while it reads debug information, for seconds
  // under ASan) to find out that its own wait is no loop's.
  if (in_unclog(return_address)) return {};
  std::uintptr_t site = return_address;
  // Sanitizer runtimes intercept poll and epoll_wait and call ours: the
  // caller we see is then theirs.
  if (detail::under_sanitizer() && in_sanitizer_runtime(site)) {
    try {
      site = caller_outside_runtimes();
    } catch (...) {
      return {};
    }
  }
  if (!site) return {};
  return {loop_of_wait(site, fd_wait), site};
}

WaitScope::WaitScope(const Loop& loop, std::uintptr_t site, const char* runner, bool condition_wait) noexcept
    : loop_(loop), site_(site), runner_(runner), condition_wait_(condition_wait) {
  watch::HoldingProgramLock held(condition_wait_);
  enter();
}

WaitScope::~WaitScope() {
  watch::HoldingProgramLock held(condition_wait_);
  leave();
}

void WaitScope::enter() noexcept {
  const watch::Config& c = watch::config();
  if (!c.enabled.load(std::memory_order_relaxed)) return;
  const bool steps = c.loop_steps.load(std::memory_order_relaxed) && !asio_handlers_tracked(loop_);
  try {
    watch::StepSlot* s = watch::t_bound_slot;
    if (s && (s->seq.load(std::memory_order_relaxed) & 1)) {
      if (s->in_loop_step.load(std::memory_order_relaxed)) {
        end_loop_step_here(*s);
        after_ = steps ? After::begin_loop_step : After::nothing;
        return;
      }
      if (s->allow_depth.load(std::memory_order_relaxed) > 0 || calls::t_internal) return;
      report_part_before(*s);
      new (allowance_) AllowBlocking("an event loop waiting for work");
      after_ = After::end_allowance;
      return;
    }
    if (s) watch::settle_loop_step(*s);
    after_ = steps ? After::begin_loop_step : After::nothing;
  } catch (...) {
    // Out of memory for a report: this wait goes unwatched.
  }
}

void WaitScope::leave() noexcept {
  switch (after_) {
    case After::nothing: break;
    case After::end_allowance: std::launder(reinterpret_cast<AllowBlocking*>(allowance_))->~AllowBlocking(); break;
    case After::begin_loop_step:
      try {
        begin_loop_step(loop_, site_, runner_);
      } catch (...) {
        // Out of memory while finding the loop's frame: no step this time.
      }
      break;
  }
}

namespace {

// Call mode's interposed waits ask here (calls/loop_waits.hpp).
bool begin_wait_of_loop(std::uintptr_t return_address, bool fd_wait, calls::LoopWaitScope& scope) noexcept {
  static_assert(sizeof(WaitScope) <= sizeof scope.storage && alignof(WaitScope) <= 16);
  const WaitSite w = loop_wait_site(return_address, fd_wait);
  if (!w.loop) [[likely]] return false;
  new (scope.storage) WaitScope(*w.loop, w.site, nullptr, /*condition_wait=*/!fd_wait);
  scope.end = [](unsigned char* storage) { std::launder(reinterpret_cast<WaitScope*>(storage))->~WaitScope(); };
  return true;
}

__attribute__((constructor)) void register_loop_waits() { calls::g_loop_wait_hook.store(begin_wait_of_loop); }

}  // namespace

}  // namespace unclog::loops

namespace unclog {

void set_loop_steps(bool on) noexcept {
#if !defined(__x86_64__)
  if (on) watch::notice_once("event loops are not watched on this architecture (unclog/loops.hpp)");
#endif
  watch::config().loop_steps.store(on);
}
bool loop_steps_enabled() noexcept { return watch::config().loop_steps.load(); }

LoopWait::LoopWait(const char* loop) noexcept {
  static_assert(sizeof(loops::WaitScope) <= sizeof scope_ && alignof(loops::WaitScope) <= alignof(void*));
  new (scope_) loops::WaitScope(loops::own_loop(), 0, loop);
}

LoopWait::~LoopWait() {
  auto* scope = std::launder(reinterpret_cast<loops::WaitScope*>(scope_));
  // The loop's frame is the function this destructor returns into.
  scope->set_site(reinterpret_cast<std::uintptr_t>(__builtin_return_address(0)));
  scope->~WaitScope();
}

}  // namespace unclog
