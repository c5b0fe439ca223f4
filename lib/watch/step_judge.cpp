#include "step_judge.hpp"

#include "call_report.hpp"
#include "config.hpp"
#include "hints.hpp"
#include "report_builder.hpp"
#include "sinks.hpp"

namespace unclog::watch {
namespace {

// Whether the step's first user frame is inside the loop: innermost to the
// frame that called the loop (whose pc is the loop's return address less
// one). A stall whose first user frame is the loop's caller, or that has
// none, is the loop's own machinery.
bool user_frame_inside_loop(const BlockingReport& r, std::uintptr_t loop_ret) {
  if (r.samples.empty()) return true;  // nothing to judge by: the test's
  for (const StackFrame& f : r.samples.front().frames) {
    if (f.pc == loop_ret - 1) return false;
    if (f.user) return true;
  }
  return false;
}

bool time_stall_counts(const BlockingReport& r, const StepEvidence& e) {
  return e.over && (r.kind != StallKind::preempted || config().report_preempted.load());
}

}  // namespace

bool judging_reads_stacks(const BlockingReport& report, const StepEvidence& e) {
  return (e.ncalls > 0 && !all_loop_library_locks(e.calls, e.ncalls)) || time_stall_counts(report, e);
}

void judge_step(BlockingReport report, const StepEvidence& e) {
  // Decided before any stack is symbolized, so a dropped report costs nothing.
  bool keep = false;
  if (e.ncalls > 0) {
    keep = add_first_unallowed_call(report, e.calls, e.ncalls, e.calls_total);
    if (keep) report.timed = e.over;  // the step's duration matters only when it overran too
  }
  bool time_stall = false;
  if (!keep) keep = time_stall = time_stall_counts(report, e);
  if (!keep) return;
  add_signal_samples(report, e.samples, e.nsamples, e.base_wall_ns);
  // A wait of the runtime's: libuv starting its thread pool inside
  // uv_fs_open, say (337 ms once on a loaded machine). Only off-CPU: a CPU
  // hog's sample lands in malloc or the unwinder as often as anywhere, and
  // the hog is still the user's loop (tests/unit/reliability_test).
  if (time_stall && report.kind == StallKind::blocked && !report.samples.empty() &&
      stall_allowed(report.samples.front().frames)) {
    return;
  }
  if (e.loop_step) {
    report.loop = e.loop_runner;
    report.library = !user_frame_inside_loop(report, e.loop_ret);
  }
  report.hint = hint_for(report, e.loop_hints);
  dispatch(report);
}

}  // namespace unclog::watch
