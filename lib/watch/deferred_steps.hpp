// Steps judged on a thread of ours. A thread entering a condition wait
// holds its mutex (Asio's scheduler lock, which every thread of a pool
// takes). Judging a step that ends there may read line tables: the
// process's first read takes 100-250 ms, and the first lookup in a large
// compilation unit (Asio's templates) still 80-90 ms once the rest is read.
// The pool's other threads waited for our symbolizer meanwhile, and were
// reported for it (tests/loops AsioPool). Such a step's evidence is copied
// and judged on the reporter thread instead; a step whose judging reads no
// stack (every call a loop library's lock, told by dladdr) is judged where
// it ends.
//
// Reports judged there are dispatched from the reporter thread, stamped
// with the test that ran when the step ended; the harness waits for them
// before it closes a test.
//
// Thread-safety: every function, any thread. Not for signal handlers.
#pragma once
#include "step_judge.hpp"

namespace unclog::watch {

// For its scope, whether the calling thread holds a lock the program's
// other threads may be waiting for (a condition wait's mutex). Waits do
// not nest: a scope that holds one is never inside another.
// Inline, and an fd wait (every wait of a loop step's loop) writes
// nothing: it costs one predicted branch.
extern __attribute__((tls_model("initial-exec"))) thread_local bool t_holding_program_lock;
class HoldingProgramLock {
 public:
  explicit HoldingProgramLock(bool holding) noexcept : holding_(holding) {
    if (holding_) [[unlikely]] t_holding_program_lock = true;
  }
  ~HoldingProgramLock() {
    if (holding_) [[unlikely]] t_holding_program_lock = false;
  }
  HoldingProgramLock(const HoldingProgramLock&) = delete;
  HoldingProgramLock& operator=(const HoldingProgramLock&) = delete;

 private:
  bool holding_;
};

// Whether a step ending now on this thread is judged on the reporter
// thread (when judging_reads_stacks()): inside HoldingProgramLock.
bool judge_elsewhere() noexcept;

// Copies the evidence and queues it for the reporter thread, started on
// first use; judges it here when no thread can be started.
void judge_later(BlockingReport report, const StepEvidence& e);

// Returns once every step queued before the call has been judged and its
// report dispatched.
void wait_for_deferred_steps();

}  // namespace unclog::watch
