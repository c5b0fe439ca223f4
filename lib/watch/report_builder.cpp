#include "report_builder.hpp"

#include <algorithm>

#include "base/tsan_sync.hpp"
#include "call_report.hpp"
#include "sinks.hpp"
#include "symbolize.hpp"

namespace unclog::watch {

StallKind classify(std::int64_t wall, std::int64_t on_cpu, std::int64_t runqueue, std::int64_t resolution,
                   bool have_stats) noexcept {
  if (!have_stats) return StallKind::blocked;
  const std::int64_t off_cpu = std::max<std::int64_t>(0, wall - on_cpu - runqueue);
  // On an idle machine the step would have taken on + off: if that is within
  // the resolution, the overrun was the scheduler's doing.
  if (on_cpu + off_cpu < resolution) return StallKind::preempted;
  return on_cpu > off_cpu ? StallKind::cpu : StallKind::blocked;
}

BlockingReport build_report(const StepSlot& slot, const SchedStat& end, const char* label, bool hang,
                            bool timed) {
  using std::chrono::nanoseconds;
  BlockingReport r;
  const SchedStat& base = timed ? slot.base : end;  // untimed: a zero-length window
  const std::int64_t wall = std::max<std::int64_t>(0, end.wall_ns - base.wall_ns);
  const bool stats = timed && base.valid && end.valid;
  const std::int64_t on = stats ? std::max<std::int64_t>(0, end.run_ns - base.run_ns) : 0;
  std::int64_t wait = stats ? std::max<std::int64_t>(0, end.wait_ns - base.wait_ns) : 0;
  // Seen asleep in the kernel: the time off a CPU until then was no wait
  // for one, whatever the counters say at the end. Linux 6.18 beside busy
  // processes was seen to count a 150 ms nanosleep as 149 ms of run delay
  // (1 sleep in 100; likely EEVDF's delayed dequeue, which leaves some
  // sleepers queued): the step then looked preempted, its report dropped.
  if (stats && slot.kernel_wait_seq == slot.base_seq.load(std::memory_order_relaxed) && slot.asleep_off_cpu_ns > 0) {
    wait = std::min(wait, std::max<std::int64_t>(0, wall - on - slot.asleep_off_cpu_ns));
  }
  r.duration = nanoseconds(wall);
  r.on_cpu = nanoseconds(on);
  r.runqueue = nanoseconds(wait);
  r.off_cpu = nanoseconds(stats ? std::max<std::int64_t>(0, wall - on - wait) : wall);
  r.timed = timed;
  r.resolution = nanoseconds(slot.resolution_ns.load(std::memory_order_relaxed));
  r.sched_stats = stats;
  r.kind = classify(wall, on, wait, slot.resolution_ns.load(std::memory_order_relaxed), stats);
  r.hang = hang;
  r.thread = slot.tid;
  // A hang's report is built on the watchdog: the name was written on the
  // step's thread before the step began (base/tsan_sync.hpp).
  if (label) detail::tsan_acquire(label);
  r.fiber = label ? label : "";
  r.runner = slot.runner.load(std::memory_order_relaxed);
  if (slot.kernel_wait_seq == slot.base_seq.load(std::memory_order_relaxed) && r.kind == StallKind::blocked) {
    detail::tsan_acquire(slot.kernel_wait);  // base/tsan_sync.hpp
    r.kernel_wait = slot.kernel_wait;
    detail::tsan_release(slot.kernel_wait);  // before the next step, whose sampling rewrites it
    // Stopped, not blocked: a debugger or tracer (strace's stops, gdb) or job
    // control (SIGSTOP, Ctrl-Z) held the thread. The time is theirs, as a
    // preemption's is the scheduler's.
    if (r.kernel_wait == "ptrace_stop" || r.kernel_wait == "do_signal_stop") r.kind = StallKind::preempted;
  }
  return r;
}

void add_signal_samples(BlockingReport& r, const Sample* samples, int n, std::int64_t base_wall_ns) {
  using std::chrono::nanoseconds;
  for (int i = 0; i < n; ++i) {
    const Sample& s = samples[i];
    StackSample out;
    // Never negative, and never past the duration: a debugger's stop or a
    // sample caught on the way out must not give figures that contradict.
    out.offset = nanoseconds(std::max<std::int64_t>(0, s.at_ns - base_wall_ns));
    if (r.timed && out.offset > r.duration) r.duration = out.offset;
    out.captured_at = std::chrono::steady_clock::time_point(nanoseconds(s.at_ns));  // both CLOCK_MONOTONIC
    out.frames = user_facing_frames(s.frames, s.nframes);
    r.samples.push_back(std::move(out));
  }
  locate(r);
}

}  // namespace unclog::watch
