#include "deferred_steps.hpp"

#include <pthread.h>
#include <signal.h>

#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "base/own_thread.hpp"
#include "sinks.hpp"
#include "visible_mutex.hpp"

namespace unclog::watch {
__attribute__((tls_model("initial-exec"))) constinit thread_local bool t_holding_program_lock = false;

namespace {

// A step's evidence, copied out of its slot, which the next step reuses.
struct DeferredStep {
  BlockingReport report;
  StepEvidence evidence;
  std::vector<CallRecord> calls;
  std::vector<Sample> samples;
  std::string runner;
  const char* hints[4] = {};
};

struct Reporter {
  VisibleMutex mu;
  std::condition_variable_any cv;
  std::deque<std::unique_ptr<DeferredStep>> queue;
  std::uint64_t queued = 0;  // steps ever queued
  std::uint64_t judged = 0;  // ... and judged
  detail::OwnThread thread;
};

// Never destroyed: the reporter thread may outlive static destruction.
Reporter* g_reporter = new Reporter;

thread_local bool t_on_reporter = false;

void reporter_main() {
  pthread_setname_np(pthread_self(), "unclog-report");
  t_on_reporter = true;
  Reporter& r = *g_reporter;
  std::unique_lock lk(r.mu);
  for (;;) {
    r.cv.wait(lk, [&] { return !r.queue.empty(); });
    std::unique_ptr<DeferredStep> step = std::move(r.queue.front());
    r.queue.pop_front();
    lk.unlock();
    try {
      judge_step(std::move(step->report), step->evidence);
    } catch (...) {
      // Out of memory for the report: it is lost, the program goes on.
    }
    step.reset();
    lk.lock();
    ++r.judged;
    r.cv.notify_all();
  }
}

// The child of a fork has no reporter thread, and the lock may have been
// held by one of the parent's threads: it starts afresh.
void after_fork_child() {
  g_reporter->thread.forget_after_fork();
  g_reporter = new Reporter;  // the parent's is left as it was: its owner does not exist here
}

// Called with r.mu held.
bool ensure_reporter(Reporter& r) {
  if (r.thread.started()) return true;
  static std::once_flag hooks;
  std::call_once(hooks, [] {
    pthread_atfork(nullptr, nullptr, after_fork_child);
    std::atexit(wait_for_deferred_steps);  // nothing judged while statics go away
  });
  // The reporter must not receive signals meant for the program.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  const bool started = r.thread.start(
      [](void*) -> void* {
        reporter_main();
        return nullptr;
      },
      nullptr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return started;
}

}  // namespace

bool judge_elsewhere() noexcept { return t_holding_program_lock; }

void judge_later(BlockingReport report, const StepEvidence& e) {
  auto step = std::make_unique<DeferredStep>();
  if (const char* test = current_test()) report.test = test;
  step->report = std::move(report);
  step->calls.assign(e.calls, e.calls + e.ncalls);
  step->samples.assign(e.samples, e.samples + e.nsamples);
  step->runner = e.loop_runner;
  if (e.loop_hints) std::copy(e.loop_hints, e.loop_hints + 4, step->hints);
  step->evidence = e;
  step->evidence.calls = step->calls.data();
  step->evidence.samples = step->samples.data();
  step->evidence.loop_runner = step->runner.c_str();
  step->evidence.loop_hints = e.loop_hints ? step->hints : nullptr;
  Reporter& r = *g_reporter;
  {
    std::lock_guard lk(r.mu);
    if (ensure_reporter(r)) {
      r.queue.push_back(std::move(step));
      ++r.queued;
      r.cv.notify_all();
      return;
    }
  }
  judge_step(std::move(step->report), step->evidence);
}

void wait_for_deferred_steps() {
  if (t_on_reporter) return;  // a report sink that exits: the step it judges is its own
  Reporter& r = *g_reporter;
  std::unique_lock lk(r.mu);
  const std::uint64_t target = r.queued;
  r.cv.wait(lk, [&] { return r.judged >= target; });
}

}  // namespace unclog::watch
