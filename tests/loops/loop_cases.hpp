// What the loop suites' callbacks do, and the tests every loop gets.
//
// Each suite file has one callback that does what the running Case asks,
// with the blocking work on lines marked SLEEP, SPIN and CALL: the checker
// (check_loops.py) expects each blocking test to fail with exactly one
// unclog failure naming that line, and the clean ones to pass.
#pragma once
#include <time.h>
#include <unistd.h>

#include <cstdint>

#include "unclog/gtest.hpp"

namespace loop_cases {

enum class Case {
  sleep,  // a callback sleeps 80 ms
  spin,   // a callback burns 80 ms of CPU
  call,   // a callback makes a fast blocking call (a read from a ready pipe)
  clean,  // callbacks are fast; the loop waits idle for 150 ms
};

inline std::int64_t thread_cpu_ns() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return std::int64_t(t.tv_sec) * 1000000000 + t.tv_nsec;
}

// Burns CPU time of this thread (not wall time: a loaded machine takes
// longer but burns the same), in batches between clock reads.
inline void burn_cpu_ms(int ms) {
  volatile std::uint64_t x = 0;
  const std::int64_t end = thread_cpu_ns() + std::int64_t(ms) * 1000000;
  while (thread_cpu_ns() < end) {
    for (int i = 0; i < 100000; ++i) x = x + i;
  }
}

// A read that returns at once from a blocking pipe: not slow, still a
// blocking call on the loop.
inline void read_ready_pipe() {
  int p[2];
  if (pipe(p) != 0) return;
  char c = 'x';
  (void)!write(p[1], &c, 1);
  (void)!read(p[0], &c, 1);  // the blocking call (call mode)
  close(p[0]);
  close(p[1]);
}

}  // namespace loop_cases

// The first-pass tests of a loop: `first(Case)` runs a callback before the
// loop's first wait (a due timer, a posted or idle callback), `nowait(Case)`
// in a run that never waits (UV_RUN_NOWAIT, EVLOOP_NONBLOCK, an iteration
// that may not block), `idle(Case)` in an idle (or already active) callback.
#define LOOP_FIRST_PASS_TESTS(Loop, first, nowait, idle)                \
  TEST(Loop, FirstPassSleep) { first(loop_cases::Case::sleep); }       \
  TEST(Loop, FirstPassClean) { first(loop_cases::Case::clean); }       \
  TEST(Loop, NoWaitSpin) { nowait(loop_cases::Case::spin); }           \
  TEST(Loop, NoWaitClean) { nowait(loop_cases::Case::clean); }         \
  TEST(Loop, IdleCall) { idle(loop_cases::Case::call); }

// The eight tests of a loop: `run(Case)` runs the loop once through.
#define LOOP_CASE_TESTS(Loop, run)                                                        \
  TEST(Loop, Sleep) { run(loop_cases::Case::sleep); }                                     \
  TEST(Loop, Spin) { run(loop_cases::Case::spin); }                                       \
  TEST(Loop, Call) { run(loop_cases::Case::call); }                                       \
  TEST(Loop, Clean) { run(loop_cases::Case::clean); }                                     \
  TEST(Loop, SleepInExpect) { EXPECT_NO_BLOCKING(run(loop_cases::Case::sleep)); }         \
  TEST(Loop, SpinInExpect) { EXPECT_NO_BLOCKING(run(loop_cases::Case::spin)); }           \
  TEST(Loop, CallInExpect) { EXPECT_NO_BLOCKING(run(loop_cases::Case::call)); }           \
  TEST(Loop, CleanInExpect) { EXPECT_NO_BLOCKING(run(loop_cases::Case::clean)); }
