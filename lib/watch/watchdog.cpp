#include "watchdog.hpp"

#include <fcntl.h>

#include <linux/futex.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "config.hpp"
#include "notices.hpp"
#include "proc_thread.hpp"
#include "base/clock.hpp"
#include "base/own_thread.hpp"
#include "base/runtime.hpp"
#include "base/tsan_sync.hpp"
#include "calls/calls.hpp"
#include "calls/trap.hpp"
#include "report_builder.hpp"
#include "sampler.hpp"
#include "schedstat.hpp"
#include "sinks.hpp"
#include "symbolize.hpp"
#include "tracer.hpp"
#include "visible_mutex.hpp"
#include "watch_internal.hpp"

namespace unclog::watch {
namespace {

struct Registry {
  VisibleMutex mu;
  std::condition_variable_any cv;
  std::vector<StepSlot*> slots;
  detail::OwnThread thread;
  bool running = false;
  bool stop = false;
  // When the watchdog was asked for: a hub's first step follows at once,
  // while the new thread may run only much later (a forked child under
  // ASan on a loaded machine saw 150 ms as 50): that step is dated from here.
  std::int64_t requested_ns = 0;
};

Registry& registry() {
  return detail::made_once<Registry>();  // never destroyed: threads may outlive statics
}

std::int64_t now_ns() { return detail::monotonic_ns(); }

std::atomic<std::int64_t> g_wake_requested_ns{0};  // by the step that woke the watchdog last

constexpr const char* kTsanSamplesNotice =
    "ThreadSanitizer is in the program: stalls are reported without the stack inside the step";
constexpr const char* kBlockedSamplesNotice =
    "a watched thread blocks the sampling signal: its stalls are reported without the stack inside the step";

// Signals go only to overrunning steps, so the looks at /proc are cheap.
// Without a signal the report carries the kernel's wait and the step's
// place but no stack from inside it. A hang's wait may be cut short: the
// program exits right after. Returns whether a signal was sent.
bool send_sample_signal(const StepSlot& s, bool hang = false) {
  const int sig = sampler_signal();
  if (!sig) return false;
  if (detail::under_tsan()) {
    // TSan may run a handler inside its own runtime, where ours then
    // deadlocked it (see SignalsHeldUnderTsan): no signal at all.
    notice_once(kTsanSamplesNotice);
    return false;
  }
  const ThreadStatus st = thread_status(s.tid, sig);
  if (st.traced) notice_once(kTracerSamplesNotice);
  if (st.blocks) notice_once(kBlockedSamplesNotice);
  if (st.traced || st.blocks || (!hang && in_unrestartable_wait(s.tid))) return false;
  return send_sample_request(s.tid, sig);
}

// A sample of step `seq`. Inside a real call the thread takes it itself
// when the call returns (CallWindow): a signal would make the call fail
// with EINTR. A window that closes just as we ask may miss the request; the
// next sample's request then signals a thread that is out of the call.
void request_sample(StepSlot& s, std::uint64_t seq) {
  s.sample_request.store(seq, std::memory_order_seq_cst);
  if (s.in_call.load(std::memory_order_seq_cst) == 0) send_sample_signal(s);
}

// Scans twenty times per resolution, to see new steps; a step already seen
// is scanned again when it passes its resolution (scan's `next_due`), not
// at the next tick: the timer's wake, not the tick, sets the latency.
std::int64_t tick_ns(const std::vector<StepSlot*>& slots) {
  std::int64_t res = config().resolution_ns.load();
  for (StepSlot* s : slots) {
    if (s->seq.load(std::memory_order_relaxed) & 1) res = std::min<std::int64_t>(res, s->resolution_ns.load(std::memory_order_relaxed));
  }
  return std::clamp<std::int64_t>(res / 20, 200000, 50000000);
}

// The kernel function the thread waits in, before the signal interrupts it.
// wchan names it for anyone; where it only says "0" or the system call
// entry (seen here for a thread's second sleep), the top of the kernel
// stack does, for those allowed to read it (root). Else left empty.
bool informative(const char* w) { return w[0] && std::strcmp(w, "0") != 0 && std::strncmp(w, "do_syscall", 10) != 0; }

// Returns whether the thread was asleep: wchan names any function, even
// the system call entry, only for a thread that is not runnable; a thread
// on a CPU or waiting for one reads "0" (its kernel stack may still name a
// function).
bool read_kernel_wait(StepSlot& s, std::uint64_t seq) {
  char path[64];
  s.kernel_wait_seq = seq;
  std::snprintf(path, sizeof path, "/proc/self/task/%d/wchan", static_cast<int>(s.tid));
  read_first_word(path, s.kernel_wait, sizeof s.kernel_wait);
  const bool asleep = s.kernel_wait[0] && std::strcmp(s.kernel_wait, "0") != 0;
  if (informative(s.kernel_wait)) return asleep;
  std::snprintf(path, sizeof path, "/proc/self/task/%d/stack", static_cast<int>(s.tid));
  read_first_word(path, s.kernel_wait, sizeof s.kernel_wait);
  if (informative(s.kernel_wait)) return asleep;
  // Neither names it: the thread is in restart_syscall (a wait the kernel
  // cut short and resumed, seen for the crawler demo's first stall) or
  // between calls. The user waits on their own call, not on a restart: the
  // report says nothing rather than that.
  s.kernel_wait[0] = '\0';
  return asleep;
}

// `off_cpu`: the step's time so far neither on a CPU nor waiting for one,
// from the counters read just before (0 when not read).
void start_sampling(StepSlot& s, std::uint64_t seq, std::int64_t now, std::int64_t off_cpu) {
  // Edges TSan cannot see through our atomics (base/tsan_sync.hpp): the
  // owner's last read of the buffer came before this step began, and this
  // write before `target` publishes it.
  detail::tsan_acquire(s.kernel_wait);
  bool asleep = read_kernel_wait(s, seq);
  // The step may have ended before wchan was read (a vCPU the host stopped
  // long enough to make a tiny step due): the wait it names is then the
  // thread's next one, often its loop's own epoll_wait, and not this step's.
  // The owner ends a step before it waits, so a step still running after
  // the read was running at it.
  if (s.seq.load(std::memory_order_seq_cst) != seq) {
    s.kernel_wait[0] = '\0';
    asleep = false;
  }
  s.asleep_off_cpu_ns = asleep ? std::max<std::int64_t>(0, off_cpu) : 0;
  detail::tsan_release(s.kernel_wait);
  s.sampling_seq = seq;
  s.nsamples.store(0, std::memory_order_relaxed);
  s.target.store(seq, std::memory_order_release);
  request_check(s);
  s.sample_interval_ns = s.resolution_ns.load(std::memory_order_relaxed);
  s.next_sample_ns = now + s.sample_interval_ns;
  request_sample(s, seq);
}

// Returns the slot whose step hung, if any. `active`: some step ran since
// the last scan, or runs now. `since`: when the last scan ran, before
// which no step seen new now had begun; `prompted`: that scan was made at
// once for a hub's start or a step's begin (ensure_watchdog,
// wake_watchdog), so the step seen now began right after it. `next_due`
// is lowered to the earliest time after `now` a running step passes its
// resolution or wants its next sample.
StepSlot* scan(const std::vector<StepSlot*>& slots, std::int64_t now, std::int64_t since, bool prompted,
               bool* active, std::int64_t* next_due) {
  const auto due_at = [&](std::int64_t t) {
    if (t > now) *next_due = std::min(*next_due, t);
  };
  const std::int64_t hang = config().hang_timeout_ns.load();
  const bool report_preempted = config().report_preempted.load();
  const bool time_reports = config().time_reports.load();
  for (StepSlot* sp : slots) {
    StepSlot& s = *sp;
    const std::uint64_t seq = s.seq.load(std::memory_order_acquire);
    if (seq != s.seen_seq || (seq & 1)) *active = true;
    if (!(seq & 1)) {
      s.seen_seq = seq;
      continue;
    }
    if (seq != s.seen_seq) {  // a new step: remember when we first saw it
      // The owner reads `base` only for a step whose base_seq matches, and
      // only after that step ended; this step began after it: no overlap.
      s.seen_seq = seq;
      // Its wall time is read with its counters, not taken from the tick: a
      // watchdog preempted in between (a loaded machine) made that gap look
      // like the step's off-CPU time, and a preempted step a 'cpu' stall.
      s.base = read_schedstat(s.schedstat_fd);
      // It began between the last scan and this one: dated there (prompted)
      // or halfway, its duration is off by at most half a tick (ARCHITECTURE,
      // "Durations"), where dating it at this scan made every report a tick
      // short. The time before this read counts as off-CPU: the counters
      // start here.
      if (since > 0 && s.base.wall_ns > since) {
        const std::int64_t unseen = s.base.wall_ns - since;
        s.base.wall_ns -= prompted ? unseen : unseen / 2;
      }
      s.base_seq.store(seq, std::memory_order_release);
      s.hang_handled = false;
      due_at(s.base.wall_ns + s.resolution_ns.load(std::memory_order_relaxed));
      continue;
    }
    const std::int64_t elapsed = now - s.base.wall_ns;
    const std::int64_t resolution = s.resolution_ns.load(std::memory_order_relaxed);
    const bool hung = hang > 0 && elapsed >= hang && !s.hang_handled;
    if (s.sampling_seq != seq) {
      bool due = false;
      std::int64_t off_cpu = 0;
      if (time_reports && elapsed >= resolution && s.allow_depth.load(std::memory_order_relaxed) == 0) {
        // Time spent waiting for a CPU is the machine's fault, not the code's.
        SchedStat cur = read_schedstat(s.schedstat_fd);
        const bool stats = cur.valid && s.base.valid;
        std::int64_t waited = stats ? cur.wait_ns - s.base.wait_ns : 0;
        const std::int64_t counted = (cur.wall_ns - s.base.wall_ns) - waited;
        due = report_preempted || counted >= resolution;
        if (!due) due_at(now + (resolution - counted));  // the soonest it can be
        if (stats) off_cpu = (cur.wall_ns - s.base.wall_ns) - waited - (cur.run_ns - s.base.run_ns);
      }
      if (due) s.timed_seq.store(seq, std::memory_order_relaxed);
      if (due && !hung && s.target.load(std::memory_order_acquire) == seq) {
        // Call mode already caught this step with the stack of its blocking
        // call: only its duration is needed, so no signal interrupts it.
        s.sampling_seq = seq;
        s.next_sample_ns = INT64_MAX;
      } else if (due || hung) {
        start_sampling(s, seq, now, off_cpu);
      } else {
        due_at(s.base.wall_ns + resolution);
      }
    } else if (now >= s.next_sample_ns && s.nsamples.load(std::memory_order_relaxed) < kMaxSamples - 1) {
      s.sample_interval_ns *= 2;  // long stalls: show where the time went
      s.next_sample_ns = now + s.sample_interval_ns;
      request_sample(s, seq);
    }
    if (s.sampling_seq == seq) due_at(s.next_sample_ns);
    if (hung) {
      s.hang_handled = true;
      return &s;
    }
  }
  return nullptr;
}

// Idle means idle: after kIdleTicks scans with no step, the watchdog sleeps
// until a step begins (step_slot.hpp, wake_watchdog_if_asleep) instead of
// ticking: a process that runs no step burns no CPU of ours (a program's
// ITIMER_PROF profiler would otherwise fire during its own sleeps).
constexpr int kIdleTicks = 40;  // two resolutions

// membarrier(PRIVATE_EXPEDITED) makes every running thread of ours pass a
// full barrier: the steppers need only a compiler barrier between their
// seq store and their load of the flag. Without it (kernels before 4.14,
// valgrind) the watchdog never sleeps.
bool can_sleep() {
  static const bool ok =
      syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
  return ok;
}

bool any_step_running(const std::vector<StepSlot*>& slots) {
  for (const StepSlot* s : slots) {
    const std::uint64_t seq = s->seq.load(std::memory_order_acquire);
    if ((seq & 1) || seq != s->seen_seq) return true;
  }
  return false;
}

// Called with the registry lock held; returns with it held.
void sleep_until_a_step(std::unique_lock<VisibleMutex>& lk, Registry& r) {
  g_watchdog_asleep.store(1, std::memory_order_seq_cst);
  // Refused (a forked child, whose registration may not have carried
  // over): no barrier, so no sleep.
  const bool fenced = syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0;
  if (!fenced || r.stop || any_step_running(r.slots)) {
    g_watchdog_asleep.store(0, std::memory_order_relaxed);
    return;
  }
  lk.unlock();
  while (g_watchdog_asleep.load(std::memory_order_acquire)) {
    syscall(SYS_futex, &g_watchdog_asleep, FUTEX_WAIT_PRIVATE, 1, nullptr, nullptr, 0);
  }
  lk.lock();
}

void watchdog_main() {
  // Wake on time: the default 50 us timer slack would show in the latency.
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  pthread_setname_np(pthread_self(), "unclog-watch");  // for gdb's and top's thread lists
  Registry& r = registry();
  std::unique_lock lk(r.mu);
  int idle = 0;
  std::int64_t last_scan = r.requested_ns;  // started for a hub: its first step follows
  bool prompted = true, woken = false;
  std::int64_t next_due = INT64_MAX;
  while (!r.stop) {
    // Woken by a step's begin: scan at once, or that step is first seen a
    // tick late. Notified (a hub starts): the same. A step about to pass
    // its resolution is scanned when it does, not up to a tick after.
    const std::int64_t wait = std::min(tick_ns(r.slots), next_due - now_ns());
    const bool notified = woken || (wait > 0 && r.cv.wait_for(lk, std::chrono::nanoseconds(wait)) ==
                                                    std::cv_status::no_timeout);
    woken = false;
    if (r.stop) break;
    const std::int64_t now = now_ns();
    withdraw_traps_if_traced(r.slots, now);
    bool active = false;
    next_due = INT64_MAX;
    if (StepSlot* hung = scan(r.slots, now, last_scan, prompted, &active, &next_due)) {
      lk.unlock();
      hang_exit(*hung);
    }
    last_scan = now;
    prompted = notified;
    idle = active ? 0 : idle + 1;
    if (idle >= kIdleTicks && can_sleep()) {
      const std::int64_t slept_at = now_ns();
      sleep_until_a_step(lk, r);
      // The step that woke us began just before it asked: dated from there,
      // not from when this thread got a CPU again.
      const std::int64_t asked = g_wake_requested_ns.load(std::memory_order_acquire);
      last_scan = asked > slept_at ? asked : now_ns();
      prompted = true;
      idle = 0;
      woken = true;
    }
  }
}

void stop_watchdog() {
  Registry& r = registry();
  detail::OwnThread t;
  {
    std::lock_guard lk(r.mu);
    if (!r.running) return;
    r.stop = true;
    t = r.thread;
    r.thread = detail::OwnThread();
  }
  r.cv.notify_all();
  wake_watchdog();
  t.join();
  std::lock_guard lk(r.mu);
  r.running = false;
  r.stop = false;
}

// fork(): hold the lock across it so the child never inherits it locked; the
// child has no watchdog thread and only the forking thread. The wait for a
// scan in progress is ours (calls::InternalScope).
void before_fork() {
  calls::InternalScope ours;
  registry().mu.lock();
}
void after_fork_parent() { registry().mu.unlock(); }
void after_fork_child() {
  Registry& r = registry();
  new (&r.mu) VisibleMutex;  // the parent's owner does not exist here
  // The parent's watchdog may have been inside cv.wait_for: the condition
  // variable's own lock and waiter count came over as it left them.
  new (&r.cv) std::condition_variable_any;
  g_watchdog_asleep.store(0, std::memory_order_relaxed);
  r.thread.forget_after_fork();
  r.running = false;
  r.stop = false;
  // Only the forking thread lives on; its slot gets the child's tid and
  // the child's schedstat (the old fd reads the parent's thread).
  StepSlot* mine = existing_thread_slot();
  r.slots.clear();
  if (mine) {
    mine->tid = static_cast<pid_t>(syscall(SYS_gettid));
    if (mine->schedstat_fd >= 0) ::close(mine->schedstat_fd);
    mine->schedstat_fd = open_schedstat(mine->tid);
    mine->seen_seq = 0;
    mine->sampling_seq = 0;
    mine->target.store(0);
    r.slots.push_back(mine);
  }
}

}  // namespace

std::atomic<int> g_watchdog_asleep{0};

void wake_watchdog() noexcept {
  g_wake_requested_ns.store(now_ns(), std::memory_order_relaxed);  // published by the exchange
  if (g_watchdog_asleep.exchange(0, std::memory_order_acq_rel)) {
    const int saved = errno;  // the stepper's errno is the program's
    syscall(SYS_futex, &g_watchdog_asleep, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
    errno = saved;
  }
}

void ensure_watchdog() {
  Registry& r = registry();
  static std::once_flag hooks;
  std::call_once(hooks, [] {
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
    std::atexit(stop_watchdog);
  });
  std::unique_lock lk(r.mu);
  if (r.running) {
    // A hub is starting, maybe with a finer resolution than the tick the
    // watchdog sleeps for: let it recompute now, or the new hub's first
    // step would be seen late.
    lk.unlock();
    r.cv.notify_one();
    wake_watchdog();
    return;
  }
  // The watchdog must not receive signals meant for the program.
  sigset_t all, old;
  sigfillset(&all);
  r.requested_ns = now_ns();
  pthread_sigmask(SIG_BLOCK, &all, &old);
  // Not started (no memory or threads left): no stalls are seen until a
  // later hub tries again; the program goes on.
  r.running = r.thread.start(
      [](void*) -> void* {
        watchdog_main();
        return nullptr;
      },
      nullptr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void register_slot(StepSlot* slot) {
  std::lock_guard lk(registry().mu);
  registry().slots.push_back(slot);
}

void unregister_slot(StepSlot* slot) {
  std::lock_guard lk(registry().mu);
  std::erase(registry().slots, slot);
}

void hang_exit(StepSlot& s) {
  // Ask the stuck thread for a fresh sample (its handler still runs while it
  // sits in a syscall) and give it a moment to write it.
  const std::int32_t before = s.nsamples.load(std::memory_order_acquire);
  const bool asked = send_sample_signal(s, /*hang=*/true);
  for (int i = 0; asked && i < 50 && s.nsamples.load(std::memory_order_acquire) == before; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(4));
  }
  SchedStat end = read_schedstat(s.schedstat_fd);
  BlockingReport report = build_report(s, end, running_label(s), /*hang=*/true);
  add_signal_samples(report, s.samples, samples_taken(s), s.base.wall_ns);
  report_hang(report);  // never returns
}

}  // namespace unclog::watch
