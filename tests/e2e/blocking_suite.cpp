// A deliberately blocking test binary, linked with unclog-gtest-main. The
// end-to-end checks (check_e2e.py) run it and read its exit status, output
// and XML. Lines marked "MARK:name" are looked up by the checker.
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "unclog/gtest.hpp"

using namespace std::chrono_literals;

namespace {

void slow_lookup() {
  usleep(150000);  // MARK:usleep
}

// Burns `d` of this thread's CPU time, not of wall time: on a busy machine a
// wall-time spin gets less CPU than the resolution and is (rightly) only
// preempted.
std::int64_t thread_cpu_ns() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}
void spin(std::chrono::milliseconds d) {
  const std::int64_t end = thread_cpu_ns() + std::chrono::nanoseconds(d).count();
  volatile unsigned x = 0;
  // One line: a sample lands in the arithmetic or in the clock's system
  // call (trapped in call mode), and names this line either way.
  timespec t;
  do { for (int i = 0; i < 100000; ++i) x = x + i; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); } while (t.tv_sec * 1000000000LL + t.tv_nsec < end);  // MARK:spin
}

// stdio reads with libc's own read: seen only as a system call.
void read_header(FILE* f) {
  char line[32];
  (void)!fgets(line, sizeof line, f);  // MARK:fgets
}

}  // namespace

TEST(Syscalls, FgetsOnAPipe) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  ASSERT_EQ(write(fds[1], "header\n", 7), 7);
  FILE* f = fdopen(fds[0], "r");
  EXPECT_NO_BLOCKING(read_header(f));
  fclose(f);
  close(fds[1]);
}

// Three fibers on one hub; "b" blocks once (the trace check reads it).
UNCLOG_TEST(Trace, ThreeFibersOneBlocks) {
  auto work = [](bool block) {
    for (int i = 0; i < 5; ++i) {
      if (block && i == 2) usleep(150000);  // MARK:trace_block
      unclog::sleep_for(std::chrono::milliseconds(2));
    }
  };
  auto a = unclog::spawn({.name = "a"}, [&] { work(false); });
  auto b = unclog::spawn({.name = "b"}, [&] { work(true); });
  auto c = unclog::spawn({.name = "c"}, [&] { work(false); });
  a.join();
  b.join();
  c.join();
}

TEST(Blocking, Usleep) { EXPECT_NO_BLOCKING(slow_lookup()); }

TEST(Blocking, Clean) { EXPECT_NO_BLOCKING(unclog::sleep_for(80ms)); }

UNCLOG_TEST(Blocking, SpinInUnclogTest) { spin(150ms); }

UNCLOG_TEST(Blocking, CleanUnclogTest) {
  auto h = unclog::spawn([] { unclog::sleep_for(60ms); });
  h.join();
}

// A plain TEST body is not watched: blocking here is not a finding.
TEST(Plain, BlockingOutsideAnyHubIsNotReported) { usleep(120000); }

// Death tests work under our main, inside and outside a hub.
TEST(Death, HubChildDies) {
  EXPECT_DEATH(unclog::run([] { std::abort(); }), "");
  // _exit: std::exit from a fiber would run LeakSanitizer's exit check in
  // ASan builds, which scans the fiber's stack and not the thread's own.
  EXPECT_EXIT(unclog::run([] { _exit(3); }), ::testing::ExitedWithCode(3), "");
}

// A hub on another thread outlives the test: its fibers are named.
TEST(Leftover, FiberOutlivesTheTest) {
  std::thread([] {
    unclog::run([] { unclog::spawn({.name = "straggler"}, [] { unclog::sleep_for(3s); }).detach(); });
  }).detach();
  std::this_thread::sleep_for(50ms);
}

TEST(Hang, ReadForever) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  // GCC gives a statement written inside a macro's arguments the line of the
  // macro itself, so that is the line the report names.
  EXPECT_NO_BLOCKING({  // MARK:hang
    char c;
    (void)!read(fds[0], &c, 1);
  });
}
