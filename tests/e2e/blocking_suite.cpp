// A deliberately blocking test binary, linked with unclog-gtest-main. The
// end-to-end checks (check_e2e.py) run it and read its exit status, output
// and XML. Lines marked "MARK:name" are looked up by the checker.
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
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

// A library's constructor holds the loader's lock while a hub takes its
// first steps (the trace check runs this with --unclog_trace, and the step's
// end is when a trace first records on the thread). The hub's own
// bookkeeping may wait for that lock, but never inside a step: it passes.
TEST(Trace, LoaderBusyAtFirstStep) {
  int go[2], loaded[2];
  ASSERT_EQ(pipe(go), 0);
  ASSERT_EQ(fcntl(go[1], F_SETFL, O_NONBLOCK), 0);  // the hub's end; the loader waits on its own
  ASSERT_EQ(pipe2(loaded, O_NONBLOCK), 0);
  setenv("UNCLOG_TEST_LOADED_FD", std::to_string(loaded[1]).c_str(), 1);
  std::thread loader([&] {
    char c;
    if (read(go[0], &c, 1) == 1) dlopen(SLOW_CONSTRUCTOR_PATH, RTLD_NOW);
  });
  std::thread hub([&] {
    unclog::run([&] {
      char c = 'g';
      ASSERT_EQ(write(go[1], &c, 1), 1);
      // Within the hub's first step, until the constructor runs (20 ms at
      // most, well under the resolution): the step then ends with the lock
      // held.
      const auto until = std::chrono::steady_clock::now() + 20ms;
      while (read(loaded[0], &c, 1) != 1 && std::chrono::steady_clock::now() < until) {
      }
      unclog::yield();
      unclog::sleep_for(1ms);
    });
  });
  hub.join();
  loader.join();
  unsetenv("UNCLOG_TEST_LOADED_FD");
  for (int fd : {go[0], go[1], loaded[0], loaded[1]}) close(fd);
}

TEST(Blocking, Usleep) { EXPECT_NO_BLOCKING(slow_lookup()); }

TEST(Blocking, Clean) { EXPECT_NO_BLOCKING(unclog::sleep_for(80ms)); }

UNCLOG_TEST(Blocking, SpinInUnclogTest) { spin(150ms); }  // MARK:spin_test

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
  static std::atomic<bool> spawned{false};
  std::thread([] {
    unclog::run([] {
      unclog::spawn({.name = "straggler"}, [] { unclog::sleep_for(3s); }).detach();
      spawned = true;
    });
  }).detach();
  // Until the straggler exists, not a fixed time: on a loaded machine the
  // thread's hub once took longer than the 50 ms this waited.
  while (!spawned) std::this_thread::sleep_for(1ms);
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
