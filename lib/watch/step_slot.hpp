// The per-thread step slot: the only thing a step costs.
//
// The owning thread marks each step with release stores to `seq` (odd while
// a step runs; a direct switch from one step to the next is a single +2;
// release is a plain mov on x86 and orders the owner's reads of `base`
// before the watchdog's next write of it); no syscall, lock or allocation.
// The watchdog thread reads `seq` a few times per resolution; when a step
// has run a full resolution it stores `target` and signals the thread, whose
// handler appends a frame sample; call mode stores `target` when the step
// makes a blocking call. At step end the owner compares `target` with the
// step's sequence and, only when they match, builds the report on the slow
// path.
//
// The hub's direct switches skip even that load: they compare `seq` with
// `check_at`, which the hub sets to the end of its pass (it has to count the
// steps of a pass anyway), and which whoever stores `target` lowers to 0
// after it. One comparison then both ends a pass and catches a targeted
// step, and watching costs a hub nothing it did not already do.
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
inline constexpr int kMaxCalls = 4;       // blocking calls kept per step
inline constexpr int kCallText = 160;

struct Sample {
  std::int64_t at_ns;     // CLOCK_MONOTONIC when captured
  std::int32_t nframes;   // frames[0] is the innermost (the interrupted pc)
  std::uintptr_t frames[kMaxFrames];
};

// A blocking call made during a step (call mode), captured where it was made.
struct CallRecord {
  char what[kCallText];   // "read(fd 7: pipe, blocking, 4096 bytes)"
  bool trapped;           // a trapped system call: frames[0] is the syscall's own pc
  std::int32_t nframes;
  std::uintptr_t frames[kMaxFrames];
};

// Scheduler statistics of one thread (see Documentation/scheduler/sched-stats).
struct SchedStat {
  std::int64_t wall_ns = 0;     // CLOCK_MONOTONIC at reading
  std::int64_t run_ns = 0;      // time on a CPU
  std::int64_t wait_ns = 0;     // time runnable but waiting for a CPU
  bool valid = false;
};

// Syscall traps (call mode, lib/calls/trap.hpp): the byte the kernel reads
// before each system call of a thread with Syscall User Dispatch on; 1 traps
// the call into SIGSYS, 0 lets it through. A step stores its slot's
// `trap_on_step` here when it begins and 0 when it ends; AllowBlocking and
// our own internal calls store 0 for their scope. Initial-exec TLS: it
// lives as long as its thread, so the kernel never reads freed memory.
extern __attribute__((tls_model("initial-exec"))) constinit thread_local volatile std::uint8_t t_trap_selector;

// The two words a hub's direct switch reads. A hub with detection off keeps
// its own, which nobody else reads.
struct StepMarks {
  std::atomic<std::uint64_t> seq{0};          // odd while a step runs; owner writes
  // step_switch() refuses to begin a step numbered >= check_at. The owner
  // sets it before beginning a step; the watchdog and call mode store 0
  // (release, after `target`) to have the running step's end checked.
  std::atomic<std::uint64_t> check_at{0};
  // What a step stores in t_trap_selector when it begins from a loop or a
  // slow path (1 when call mode traps this thread's system calls). A direct
  // switch stores nothing (a byte store there cost 4% of a yield round
  // trip); what leaves a step's selector at 0 instead lowers check_at, so
  // that its end takes the slow path and the next step is re-armed (see
  // trap.cpp: calls re-run in place), or re-arms it itself (siglongjmp).
  // Set when a loop attaches; the watchdog lowers it when a tracer appears.
  std::atomic<std::uint8_t> trap_on_step{0};
};

struct StepSlot : StepMarks {
  // --- written by the owning thread ---
  // Name of the running step, for reports: the StepGuard's label, or asked
  // of the loop (the hub names its running fiber) so that marking a step
  // stores nothing else. Set when a loop attaches, not per step.
  using LabelOf = const char* (*)(const void* loop);
  std::atomic<const char*> label{"step"};
  std::atomic<LabelOf> label_of{nullptr};
  std::atomic<const void*> loop{nullptr};
  // What runs the steps, as reports name it: "fiber" (the hub, StepGuard),
  // "asio handler". A string literal; set when a loop attaches.
  std::atomic<const char*> runner{"fiber"};
  std::atomic<std::int64_t> resolution_ns{0}; // of the loop attached last
  std::atomic<int> allow_depth{0};            // open AllowBlocking scopes
  std::atomic<const char*> allow_reason{nullptr};
  // Syscall traps: whether dispatch is on for this thread (0 not tried yet,
  // 1 on, 2 unavailable). Set when a loop attaches, not per step.
  std::uint8_t trap_state = 0;
  volatile std::uint8_t* trap_selector = nullptr;  // the thread's t_trap_selector, once armed

  // --- call mode, written by the owning thread during the step ---
  std::uint64_t call_seq = 0;                 // step the records belong to
  std::int32_t ncalls = 0;                    // records kept (<= kMaxCalls)
  std::uint32_t calls_total = 0;              // blocking calls made
  CallRecord calls[kMaxCalls];

  // --- loop steps (lib/loops), owner thread and its signal handlers ---
  // The running step was begun by an event loop's wait returning; it is
  // the loop's while the loop's frame is live (loop_frame_live). The frame
  // is kept across steps, so a loop's next step checks it with one load
  // instead of unwinding; loop_refused: that frame's loop gets no steps
  // (run by a library's own thread).
  std::atomic<std::uint8_t> in_loop_step{0};
  std::uint8_t loop_refused = 0;
  std::uint8_t loop_by_entry = 0;             // the frame is a run function's entry (loops/entry_hooks.hpp)
  std::uintptr_t loop_cfa = 0;                // the loop's outermost frame (loops/loop_frame.hpp)
  std::uintptr_t loop_ret = 0;                // ... the return address at loop_cfa - 8 while it runs
  const void* loop_site = nullptr;            // the loop whose wait found the frame
  const void* loop_kind = nullptr;            // the loop it belongs to (loops::Loop: Qt over GLib)
  char loop_runner[40] = {};                  // "libuv loop"
  char loop_label[96] = {};                   // "uv_run (thread 1234)"
  // Remedies in the running steps' own idiom (Asio handlers, foreign
  // loops): for a blocking step, a sleep, a CPU hog. Null: the hub's.
  const char* loop_hints[4] = {};  // blocked, sleep, cpu, contended lock
  // A loop step found over (its loop had returned) where no report can be
  // built (a signal handler), with evidence of blocking: reported at the
  // thread's next step boundary (settle_loop_step).
  std::uint64_t orphan_seq = 0;
  SchedStat orphan_end;

  // --- written by the watchdog ---
  // Where the kernel had the thread waiting (/proc/.../wchan: "anon_pipe_read",
  // "hrtimer_nanosleep") when the watchdog first sampled step kernel_wait_seq;
  // published by the release store of `target` that follows.
  char kernel_wait[48] = {};
  std::uint64_t kernel_wait_seq = 0;
  // When wchan showed the thread asleep at that sampling: the step's time
  // off a CPU and off the run queue until then (else 0). Every wait for a
  // CPU before a sleep is already counted; none of this time was one
  // (build_report).
  std::int64_t asleep_off_cpu_ns = 0;
  SchedStat base;                             // when the step was first seen...
  std::atomic<std::uint64_t> base_seq{0};     // ...which step that was (release after base)
  std::atomic<std::uint64_t> timed_seq{0};    // step found over the resolution
  // Step whose end must take the slow path: set by the watchdog when it
  // samples a step, by call mode when a step made a blocking call.
  std::atomic<std::uint64_t> target{0};

  // Real calls of interposed functions or trapped system calls open now
  // (sampler.hpp, CallWindow); the watchdog does not signal the thread
  // while it is not 0, and stores the step in sample_request instead.
  std::atomic<std::uint8_t> in_call{0};
  std::atomic<std::uint64_t> sample_request{0};

  // --- written by the signal handler, on the owning thread ---
  std::atomic<std::int32_t> nsamples{0};
  Sample samples[kMaxSamples];

  // --- identity, fixed at attach ---
  pid_t tid = 0;
  int schedstat_fd = -1;                      // /proc/self/task/TID/schedstat

  // --- watchdog-private bookkeeping ---
  std::uint64_t seen_seq = 0;
  std::uint64_t sampling_seq = 0;             // step the watchdog is sampling
  std::int64_t next_sample_ns = 0;
  std::int64_t sample_interval_ns = 0;
  bool hang_handled = false;
};

// The samples the signal handler has written for the step, at most kMaxSamples.
inline int samples_taken(const StepSlot& s) noexcept {
  const int n = s.nsamples.load(std::memory_order_acquire);
  return n < kMaxSamples ? n : kMaxSamples;
}

// Slow path of step_end(): builds and dispatches the report of the step
// that ran as `label`. `end`: when the step ended, if not now. `loop_step`:
// a loop step (its report names the loop; a stall of the loop's own
// machinery is marked the library's). Owner thread.
void finish_step(StepSlot& slot, std::uint64_t step_seq, const char* label, const SchedStat* end = nullptr,
                 bool loop_step = false);

// Whether the loop that began the running loop step is still running: its
// outermost frame's return address is still where the call put it (the
// code after the loop would have overwritten it with its own calls).
// One load; async-signal-safe. Only for a slot whose loop_cfa is set.
// The word may lie in another frame now, or below the stack pointer (that
// is what this finds out): unsanitized, as AddressSanitizer would call
// reading it an overflow; and read through a system call under valgrind,
// whose memcheck calls the dead word undefined and fails the user's run.
extern std::atomic<bool> g_read_loop_frames_by_syscall;  // set once, under valgrind
bool loop_frame_live_by_syscall(const StepSlot& s) noexcept;
__attribute__((no_sanitize("address"))) inline bool loop_frame_live(const StepSlot& s) noexcept {
  if (g_read_loop_frames_by_syscall.load(std::memory_order_relaxed)) [[unlikely]] return loop_frame_live_by_syscall(s);
  return *reinterpret_cast<const volatile std::uintptr_t*>(s.loop_cfa - sizeof(std::uintptr_t)) == s.loop_ret;
}

// Ends the running loop step because its loop has returned: no report now;
// one with evidence of blocking (samples or calls taken while the loop ran)
// is kept as the orphan. Owner thread; async-signal-safe.
void leave_loop_step(StepSlot& s) noexcept;

// The check for code that can see a loop step outlive its loop: ends it
// when the loop has returned. Owner thread; async-signal-safe. Returns
// whether a watched step still runs.
inline bool loop_step_still_running(StepSlot& s) noexcept {
  if (!s.in_loop_step.load(std::memory_order_relaxed)) [[likely]] return true;
  if (loop_frame_live(s)) return true;
  leave_loop_step(s);
  return false;
}

// At a step boundary: ends a loop step whose loop has returned, and reports
// the orphan, if any. Owner thread, not in a signal handler.
void settle_loop_step(StepSlot& s);

// The name the watchdog gives a step it reports itself (hangs).
inline const char* running_label(const StepSlot& slot) noexcept {
  if (auto f = slot.label_of.load(std::memory_order_acquire)) return f(slot.loop.load(std::memory_order_acquire));
  return slot.label.load(std::memory_order_relaxed);
}

// The watchdog sleeps while no step runs (watchdog.cpp): whoever begins a
// step from outside one wakes it. The step's seq store comes first and only
// a compiler barrier separates it from the load of the flag; the watchdog
// pairs that with membarrier(), so either it sees the step or the step
// sees it asleep. One load of a read-mostly word per step begin.
extern std::atomic<int> g_watchdog_asleep;
void wake_watchdog() noexcept;
inline void wake_watchdog_if_asleep() noexcept {
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if (g_watchdog_asleep.load(std::memory_order_relaxed)) [[unlikely]] wake_watchdog();
}

inline void step_begin(StepSlot* slot) noexcept {
  if (!slot) return;
  slot->seq.store(slot->seq.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  wake_watchdog_if_asleep();  // before the selector: its futex call is ours, untrapped
  t_trap_selector = slot->trap_on_step.load(std::memory_order_relaxed);
}

// Ends the running step. Returns its sequence number when it needs a report
// (call finish_step() with it, preferably on a roomy stack), otherwise 0.
inline std::uint64_t step_end(StepSlot* slot) noexcept {
  if (!slot) return 0;
  t_trap_selector = 0;
  const std::uint64_t s = slot->seq.load(std::memory_order_relaxed);
  slot->seq.store(s + 1, std::memory_order_release);
  if (slot->target.load(std::memory_order_relaxed) == s) [[unlikely]] return s;
  return 0;
}

// Asks for the running step's end to be checked against `target` (stored
// just before). Any thread.
inline void request_check(StepMarks& m) noexcept { m.check_at.store(0, std::memory_order_release); }

// The hub's direct switch: ends the running step and begins the next with
// one store, unless that step would be numbered check_at or later; then it
// touches nothing and returns false, and the caller ends the step the slow
// way (step_end) and decides what runs next. Owner thread.
inline bool step_switch(StepMarks& m) noexcept {
  const std::uint64_t s = m.seq.load(std::memory_order_relaxed);
  if (s + 2 >= m.check_at.load(std::memory_order_acquire)) [[unlikely]] return false;
  m.seq.store(s + 2, std::memory_order_release);
  return true;
}

}  // namespace unclog::watch
