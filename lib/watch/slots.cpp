// Per-thread slots: creation, registration, the step-end slow path.
#include <errno.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "config.hpp"
#include "report_builder.hpp"
#include "sampler.hpp"
#include "schedstat.hpp"
#include "watch_internal.hpp"
#include "watchdog.hpp"
#include "call_report.hpp"
#include "trace.hpp"
#include "deferred_steps.hpp"
#include "hints.hpp"
#include "tracer.hpp"

namespace unclog::watch {
namespace {

struct SlotOwner {
  StepSlot* slot = nullptr;
  ~SlotOwner() {
    if (!slot) return;
    // A loop thread whose loop returned right after a blocking callback:
    // the step's report is made before the thread goes.
    try {
      settle_loop_step(*slot);
    } catch (...) {
    }
    unregister_slot(slot);
    unbind_sampler();
    if (slot->schedstat_fd >= 0) ::close(slot->schedstat_fd);
    delete slot;
  }
};
thread_local SlotOwner t_owner;

std::atomic<bool (*)() noexcept> g_trap_arm{nullptr};

void refresh_traps(StepSlot& s) {
  const Config& c = config();
  auto arm = g_trap_arm.load(std::memory_order_relaxed);
  if (!arm || !c.call_reports.load(std::memory_order_relaxed) || !c.syscall_traps.load(std::memory_order_relaxed)) {
    s.trap_on_step.store(0, std::memory_order_relaxed);
    return;
  }
  if (s.trap_state == 0) {
    s.trap_state = !traps_withdrawn() && arm() ? 1 : 2;
    if (s.trap_state == 1) s.trap_selector = &t_trap_selector;
  }
  s.trap_on_step.store(s.trap_state == 1 && !traps_withdrawn(), std::memory_order_relaxed);
}

}  // namespace

__attribute__((tls_model("initial-exec"))) constinit thread_local volatile std::uint8_t t_trap_selector = 0;

void set_trap_arm(bool (*arm)() noexcept) noexcept { g_trap_arm.store(arm); }

StepSlot& thread_slot() {
  if (!t_owner.slot) {
    auto* s = new StepSlot;
    s->tid = static_cast<pid_t>(syscall(SYS_gettid));
    s->schedstat_fd = open_schedstat(s->tid);
    s->resolution_ns.store(config().resolution_ns.load(), std::memory_order_relaxed);
    install_sampler();
    bind_sampler(s);
    register_slot(s);
    t_owner.slot = s;
  }
  return *t_owner.slot;
}

StepSlot* existing_thread_slot() noexcept { return t_owner.slot; }

namespace {

void attach(StepSlot& s) {
  s.resolution_ns.store(config().resolution_ns.load(), std::memory_order_relaxed);
  refresh_traps(s);
  ensure_watchdog();
}

}  // namespace

// This thread's slot as attached_slot() last set it up, and the settings it
// was set up for: attaching per step would wake the watchdog each time.
constinit thread_local AttachedSlot t_attached;

StepSlot* slot_for_new_hub() {
  if (!config().enabled.load(std::memory_order_relaxed)) return nullptr;
  StepSlot& s = thread_slot();
  settle_loop_step(s);
  // Inside a step already (a hub run from a StepGuard'ed callback or a loop
  // step): the enclosing step covers this hub's work.
  if (s.seq.load(std::memory_order_relaxed) & 1) return nullptr;
  s.loop_hints[0] = s.loop_hints[1] = s.loop_hints[2] = s.loop_hints[3] = nullptr;
  attach(s);
  return &s;
}

StepSlot* attach_this_thread() {
  // The settings before attaching: one that changes meanwhile attaches again.
  const Config& c = config();
  const AttachedSlot settings{nullptr, c.resolution_ns.load(std::memory_order_relaxed),
                              c.call_reports.load(std::memory_order_relaxed), c.syscall_traps.load(std::memory_order_relaxed)};
  StepSlot& s = thread_slot();
  attach(s);
  t_attached = settings;
  t_attached.slot = &s;
  return &s;
}

void leave_loop_step(StepSlot& s) noexcept {
  // Cleared first: a signal handler landing from here on leaves it alone.
  s.in_loop_step.store(0, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  const std::uint64_t seq = s.seq.load(std::memory_order_relaxed);
  if (!(seq & 1)) return;
  t_trap_selector = 0;
  const bool evidence = s.target.load(std::memory_order_acquire) == seq &&
                        (s.nsamples.load(std::memory_order_relaxed) > 0 || (s.call_seq == seq && s.ncalls > 0));
  if (evidence) {
    s.orphan_end = read_schedstat(s.schedstat_fd);
    s.orphan_seq = seq;
  }
  s.seq.store(seq + 1, std::memory_order_release);
}

std::atomic<bool> g_read_loop_frames_by_syscall{false};

// process_vm_readv on ourselves: memcheck marks what a system call wrote as
// defined and does not look at the memory it read. Async-signal-safe.
bool loop_frame_live_by_syscall(const StepSlot& s) noexcept {
  const int saved = errno;
  std::uintptr_t word = 0;
  iovec local{&word, sizeof word};
  iovec remote{reinterpret_cast<void*>(s.loop_cfa - sizeof word), sizeof word};
  const bool read = process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == static_cast<ssize_t>(sizeof word);
  errno = saved;
  return read && word == s.loop_ret;
}

void settle_loop_step(StepSlot& s) {
  if (s.in_loop_step.load(std::memory_order_relaxed) && !loop_frame_live(s)) leave_loop_step(s);
  if (const std::uint64_t orphan = s.orphan_seq) {
    s.orphan_seq = 0;
    finish_step(s, orphan, s.loop_label, &s.orphan_end, /*loop_step=*/true);
  }
}

void settle_this_thread() noexcept {
  StepSlot* s = t_owner.slot;
  if (!s) return;
  try {
    settle_loop_step(*s);
  } catch (...) {
    // Out of memory for the report: it is lost, the program goes on.
  }
}

void finish_step(StepSlot& slot, std::uint64_t step, const char* label, const SchedStat* end_at, bool loop_step) {
  (void)slot.target.load(std::memory_order_acquire);  // pairs with the watchdog's release
  const bool timed = slot.base_seq.load(std::memory_order_acquire) == step;
  const bool called = slot.call_seq == step && slot.ncalls > 0;
  const SchedStat end = end_at ? *end_at : read_schedstat(slot.schedstat_fd);
  StepEvidence e;
  e.over = slot.timed_seq.load(std::memory_order_relaxed) == step;
  e.loop_step = loop_step;
  e.calls = slot.calls;
  e.ncalls = called ? slot.ncalls : 0;
  e.calls_total = slot.calls_total;
  e.samples = slot.samples;
  e.nsamples = samples_taken(slot);
  e.base_wall_ns = slot.base.wall_ns;
  e.loop_ret = slot.loop_ret;
  e.loop_runner = slot.loop_runner;
  e.loop_hints = slot.loop_hints;
  BlockingReport report = build_report(slot, end, label, /*hang=*/false, timed);
  if (!judge_elsewhere()) {
    judge_step(std::move(report), e);
  } else if (judging_reads_stacks(report, e)) {
    judge_later(std::move(report), e);
  }  // else judge_step would read nothing and drop it
  slot.ncalls = 0;
  slot.calls_total = 0;
  slot.nsamples.store(0, std::memory_order_relaxed);
}

}  // namespace unclog::watch

namespace unclog {

StepGuard::StepGuard(const char* label) noexcept {
  if (!watch::config().enabled.load(std::memory_order_relaxed)) return;
  try {
    watch::StepSlot* s = watch::slot_for_new_hub();
    if (!s) return;
    s->label_of.store(nullptr, std::memory_order_relaxed);
    s->label.store(label, std::memory_order_relaxed);
    s->runner.store("step", std::memory_order_relaxed);
    s->loop_hints[0] = watch::kOwnLoopHints[0];
    s->loop_hints[1] = watch::kOwnLoopHints[1];
    s->loop_hints[2] = watch::kOwnLoopHints[2];
    s->loop_hints[3] = watch::kOwnLoopHints[3];
    if (watch::trace::on()) [[unlikely]] began_ns_ = watch::trace::now_ns();
    watch::step_begin(s);
    slot_ = s;
  } catch (...) {
    // Out of memory or no thread for the watchdog: this step goes unwatched.
  }
}

StepGuard::~StepGuard() {
  auto* s = static_cast<watch::StepSlot*>(slot_);
  if (!s) return;
  const std::uint64_t step = watch::step_end(s);
  const char* label = s->label.load(std::memory_order_relaxed);
  if (watch::trace::on()) [[unlikely]] {
    watch::trace::t_track = watch::trace::record_loop_step("step", label, began_ns_, watch::trace::now_ns());
  }
  if (step) watch::finish_step(*s, step, label);
}

AllowBlocking::AllowBlocking(const char* reason) noexcept : previous_reason_(nullptr) {
  try {
    watch::StepSlot& s = watch::thread_slot();
    previous_reason_ = s.allow_reason.exchange(reason, std::memory_order_relaxed);
    s.allow_depth.fetch_add(1, std::memory_order_relaxed);
    watch::t_trap_selector = 0;  // nothing in the scope is reported: no need to trap it
  } catch (...) {
  }
}

AllowBlocking::~AllowBlocking() {
  watch::StepSlot& s = watch::thread_slot();
  s.allow_reason.store(previous_reason_, std::memory_order_relaxed);
  if (s.allow_depth.fetch_sub(1, std::memory_order_relaxed) == 1) {
    // Leaving the last scope inside a step: the step's clock restarts here,
    // so the allowed time is not counted against what follows.
    const std::uint64_t seq = s.seq.load(std::memory_order_relaxed);
    if (seq & 1) {
      s.seq.store(seq + 2, std::memory_order_relaxed);
      // Blocking calls the step made before the scope are still its own.
      if (s.call_seq == seq) {
        s.call_seq = seq + 2;
        if (s.target.load(std::memory_order_relaxed) == seq) {
          s.target.store(seq + 2, std::memory_order_release);
          request_check(s);
        }
      }
      watch::t_trap_selector = s.trap_on_step.load(std::memory_order_relaxed);
    }
  }
}

}  // namespace unclog
