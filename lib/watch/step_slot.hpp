// The per-thread step slot: the only thing a step costs.
//
// The owning thread marks each step with two relaxed stores to `seq` (odd
// while a step runs) and one to `label`; no syscall, lock or allocation. The
// watchdog thread reads `seq` a few times per resolution; when a step has
// run a full resolution it stores `target` and signals the thread, whose
// handler appends a frame sample. At step end the owner compares `target`
// with the step's sequence (one load) and, only when they match, builds the
// report on the slow path.
//
// Lifetime: a slot is created by attach() on its thread and lives until that
// thread exits; the watchdog only touches it under the registry lock.
#pragma once
#include <sys/types.h>

#include <atomic>
#include <cstdint>

namespace unclog::watch {

inline constexpr int kMaxFrames = 64;
inline constexpr int kMaxSamples = 8;

struct Sample {
  std::int64_t at_ns;     // CLOCK_MONOTONIC when captured
  std::int32_t nframes;   // frames[0] is the innermost (the interrupted pc)
  std::uintptr_t frames[kMaxFrames];
};

// Scheduler statistics of one thread (see Documentation/scheduler/sched-stats).
struct SchedStat {
  std::int64_t wall_ns = 0;     // CLOCK_MONOTONIC at reading
  std::int64_t run_ns = 0;      // time on a CPU
  std::int64_t wait_ns = 0;     // time runnable but waiting for a CPU
  bool valid = false;
};

struct StepSlot {
  // --- written by the owning thread ---
  std::atomic<std::uint64_t> seq{0};          // odd while a step runs
  std::atomic<const char*> label{"step"};     // fiber name of the running step
  std::atomic<int> allow_depth{0};            // open AllowBlocking scopes
  std::atomic<const char*> allow_reason{nullptr};

  // --- written by the watchdog before it publishes `target` (release) ---
  SchedStat base;                             // when the step was first seen
  std::atomic<std::uint64_t> target{0};       // step being sampled, 0 if none

  // --- written by the signal handler, on the owning thread ---
  std::atomic<std::int32_t> nsamples{0};
  Sample samples[kMaxSamples];

  // --- identity, fixed at attach ---
  pid_t tid = 0;
  int schedstat_fd = -1;                      // /proc/self/task/TID/schedstat

  // --- watchdog-private bookkeeping ---
  std::uint64_t seen_seq = 0;
  SchedStat seen;
  std::int64_t next_sample_ns = 0;
  std::int64_t sample_interval_ns = 0;
  bool hang_handled = false;
  std::int64_t resolution_ns = 0;             // resolution of the attached hub
};

// Slow path of step_end(): builds and dispatches the report. Owner thread.
void finish_step(StepSlot& slot, std::uint64_t step_seq);

inline void step_begin(StepSlot* slot, const char* label) noexcept {
  if (slot) {
    slot->label.store(label, std::memory_order_relaxed);
    slot->seq.store(slot->seq.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
}

// Ends the running step. Returns its sequence number when the watchdog
// sampled it (call finish_step() with it, preferably on a roomy stack),
// otherwise 0.
inline std::uint64_t step_end(StepSlot* slot) noexcept {
  if (!slot) return 0;
  const std::uint64_t s = slot->seq.load(std::memory_order_relaxed);
  slot->seq.store(s + 1, std::memory_order_relaxed);
  if (slot->target.load(std::memory_order_relaxed) == s) [[unlikely]] return s;
  return 0;
}

}  // namespace unclog::watch
