// Steps judged on a thread of ours. A thread entering a condition wait
// holds its mutex (Asio's scheduler lock, which every thread of a pool
// takes). A step that ends there and must read a stack before the process
// has read its debug information (100-250 ms, once per process) kept the
// pool's other threads waiting for our symbolizer, and they were reported
// for it (tests/loops AsioPool). Such a step's evidence is copied and
// judged on the reporter thread instead; once the debug information is
// read, judging takes microseconds and stays on the step's own thread.
//
// Reports judged there are dispatched from the reporter thread, stamped
// with the test that ran when the step ended; the harness waits for them
// before it closes a test.
//
// Thread-safety: every function, any thread. Not for signal handlers.
#pragma once
#include "step_judge.hpp"

namespace unclog::watch {

// For its scope, the calling thread holds a lock the program's other
// threads may be waiting for (a condition wait's mutex).
class HoldingProgramLock {
 public:
  HoldingProgramLock() noexcept;
  ~HoldingProgramLock();
  HoldingProgramLock(const HoldingProgramLock&) = delete;
  HoldingProgramLock& operator=(const HoldingProgramLock&) = delete;

 private:
  bool outer_;
};

// Whether a step ending now on this thread is judged on the reporter
// thread (when judging_reads_stacks()): inside HoldingProgramLock, before
// the debug information is read.
bool judge_elsewhere() noexcept;

// Copies the evidence and queues it for the reporter thread, started on
// first use; judges it here when no thread can be started.
void judge_later(BlockingReport report, const StepEvidence& e);

// Returns once every step queued before the call has been judged and its
// report dispatched.
void wait_for_deferred_steps();

}  // namespace unclog::watch
