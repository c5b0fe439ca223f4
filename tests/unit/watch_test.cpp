// The detector through the hub: what it catches, what it stays quiet about,
// and what its reports say.
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "direct_switches.hpp"
#include "unclog/hub.hpp"
#include "unclog/watch.hpp"
#include "watch/deferred_steps.hpp"
#include "watch/format.hpp"
#include "watch/hints.hpp"
#include "watch/report_builder.hpp"
#include "watch/sampler.hpp"
#include "watch/sinks.hpp"
#include "watch/symtab.hpp"

using namespace std::chrono_literals;
using ::testing::HasSubstr;

namespace {

// Collects the reports raised while it lives.
class Reports {
 public:
  Reports() {
    id_ = unclog::add_report_sink([this](const unclog::BlockingReport& r) {
      std::lock_guard lk(mu_);
      reports_.push_back(r);
    });
  }
  ~Reports() { unclog::remove_report_sink(id_); }
  std::vector<unclog::BlockingReport> take() {
    std::lock_guard lk(mu_);
    return std::move(reports_);
  }

 private:
  int id_;
  std::mutex mu_;
  std::vector<unclog::BlockingReport> reports_;
};

void spin_cpu(std::chrono::nanoseconds cpu) {
  timespec t0, t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
  volatile unsigned x = 0;
  do {
    for (int i = 0; i < 10000; ++i) x = x + i;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  } while ((t.tv_sec - t0.tv_sec) * 1000000000LL + (t.tv_nsec - t0.tv_nsec) < cpu.count());
}

std::string base_name(const std::string& path) { return path.substr(path.rfind('/') + 1); }

class Watch : public ::testing::Test {
 protected:
  void SetUp() override {
    unclog::set_stderr_reports(false);
    unclog::hub_blocking_detection(true, 50ms);
  }
  void TearDown() override {
    unclog::hub_blocking_detection(false);
    unclog::set_stderr_reports(true);
  }
  Reports reports;
};

}  // namespace

TEST_F(Watch, UsleepIsBlockedAtTheTestLine) {
  int line = 0;
  unclog::run([&] { line = __LINE__; usleep(150000); });
  auto rs = reports.take();
  ASSERT_EQ(rs.size(), 1u);
  const auto& r = rs[0];
  EXPECT_EQ(r.kind, unclog::StallKind::blocked) << r.text();
  EXPECT_EQ(base_name(r.file), "watch_test.cpp") << r.text();
  EXPECT_EQ(r.line, line) << r.text();
  EXPECT_THAT(r.function, HasSubstr("usleep")) << r.text();
  EXPECT_EQ(r.fiber, "main");
  EXPECT_GE(r.duration, 40ms);
  EXPECT_THAT(r.text(), HasSubstr("blocking"));
  EXPECT_THAT(r.text(), HasSubstr("blocked"));
  EXPECT_THAT(r.text(), HasSubstr("watch_test.cpp:" + std::to_string(line)));
  EXPECT_THAT(r.text(), HasSubstr("usleep"));
}

TEST_F(Watch, CpuSpinIsCpu) {
  unclog::run([&] { spin_cpu(150ms); });
  auto rs = reports.take();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].kind, unclog::StallKind::cpu) << rs[0].text();
  // The hog is the user's own loop: the report names it, in this file.
  EXPECT_EQ(base_name(rs[0].file), "watch_test.cpp") << rs[0].text();
  EXPECT_THAT(rs[0].function, HasSubstr("spin_cpu")) << rs[0].text();
  EXPECT_THAT(rs[0].text(), HasSubstr("cpu"));
}

// The sampling signal is one no handler had. A program that claims it
// later gets it, and only its own signals reach its handler; the sampler
// moves to another free signal and still takes stacks.
std::atomic<int> g_program_signals{0};
void program_handler(int) { g_program_signals.fetch_add(1); }

TEST_F(Watch, AProgramThatClaimsTheSamplingSignalGetsItAlone) {
  unclog::run([] {});  // the sampler is installed
  const int sig = unclog::watch::sampler_signal();
  ASSERT_NE(sig, 0);
  struct sigaction seen {};
  ASSERT_EQ(sigaction(sig, nullptr, &seen), 0);
  EXPECT_EQ(seen.sa_handler, SIG_DFL);  // as the program would find it without us
  struct sigaction mine {};
  mine.sa_handler = program_handler;
  sigemptyset(&mine.sa_mask);
  ASSERT_EQ(sigaction(sig, &mine, &seen), 0);
  EXPECT_EQ(seen.sa_handler, SIG_DFL);
  EXPECT_NE(unclog::watch::sampler_signal(), sig);
  EXPECT_NE(unclog::watch::sampler_signal(), 0);
  unclog::run([&] { spin_cpu(150ms); });
  EXPECT_EQ(g_program_signals.load(), 0);
  auto rs = reports.take();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].kind, unclog::StallKind::cpu) << rs[0].text();
  EXPECT_THAT(rs[0].function, HasSubstr("spin_cpu")) << rs[0].text();  // sampled through the new signal
  raise(sig);
  EXPECT_EQ(g_program_signals.load(), 1);
  ASSERT_EQ(sigaction(sig, nullptr, &seen), 0);
  EXPECT_EQ(seen.sa_handler, program_handler);
  signal(sig, SIG_DFL);
  // Code that resets signals to their default (as before an exec) leaves the
  // sampler where it is: SIG_DFL is what the program saw already.
  const int now_ours = unclog::watch::sampler_signal();
  for (int s = SIGRTMIN; s <= SIGRTMAX; ++s) signal(s, SIG_DFL);
  EXPECT_EQ(unclog::watch::sampler_signal(), now_ours);
  unclog::run([&] { spin_cpu(150ms); });
  rs = reports.take();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_THAT(rs[0].function, HasSubstr("spin_cpu")) << rs[0].text();
}

// A thread that blocks the sampling signal is never sent it: the signal
// would stay pending and reach the program's sigwait (or signalfd) as one
// it never sent. Its stall is reported all the same, without a stack.
TEST_F(Watch, AThreadThatBlocksTheSamplingSignalNeverGetsIt) {
  unclog::run([] {});
  const int sig = unclog::watch::sampler_signal();
  ASSERT_NE(sig, 0);
  sigset_t set, before;
  sigemptyset(&set);
  sigaddset(&set, sig);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &set, &before), 0);
  unclog::run([&] { spin_cpu(150ms); });
  const timespec none{0, 0};
  siginfo_t info;
  const int got = sigtimedwait(&set, &info, &none);
  const int err = errno;
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
  EXPECT_EQ(got, -1) << "the program's sigwait got our signal " << got;
  EXPECT_EQ(err, EAGAIN);
  auto rs = reports.take();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].kind, unclog::StallKind::cpu) << rs[0].text();
  EXPECT_THAT(rs[0].text(), HasSubstr("no stack from inside the step"));
  bool noticed = false;
  for (const std::string& n : unclog::watch_limitations()) noticed = noticed || n.find("blocks the sampling signal") != std::string::npos;
  EXPECT_TRUE(noticed);
}

// A thread with a small alternate signal stack of its own keeps it; the
// sampler then must not unwind past its end (it overwrote what lay below: a
// 4 KiB one from malloc ended in "double free or corruption").
TEST_F(Watch, ASmallAlternateStackOfTheProgramsIsNotOverrun) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "ASan's own signal handling runs on the alternate stack too, past what we leave";
#endif
  long frame = sysconf(_SC_MINSIGSTKSZ);  // the kernel's signal frame here
  if (frame <= 0) frame = 4096;
  const std::size_t size = (static_cast<std::size_t>(frame) + 1024 + 15) & ~std::size_t{15};
  constexpr std::size_t kBelow = 16 * 1024;
  std::vector<unsigned char> memory(kBelow + size, 0xAB);
  std::thread t([&] {
    stack_t ss{}, old{};
    ss.ss_sp = memory.data() + kBelow;
    ss.ss_size = size;
    ASSERT_EQ(sigaltstack(&ss, &old), 0);
    unclog::run([&] { spin_cpu(150ms); });
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, nullptr);
  });
  t.join();
  std::size_t overwritten = 0;
  for (std::size_t i = 0; i < kBelow; ++i) overwritten += memory[i] != 0xAB;
  EXPECT_EQ(overwritten, 0u) << "bytes below the alternate stack of " << size;
  auto rs = reports.take();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].kind, unclog::StallKind::cpu) << rs[0].text();
}

TEST_F(Watch, BlockingPipeReadIsBlocked) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::thread writer([&] {
    std::this_thread::sleep_for(200ms);
    (void)!::write(fds[1], "x", 1);
  });
  int line = 0;
  unclog::run([&] {
    char c;
    line = __LINE__; (void)!::read(fds[0], &c, 1);
  });
  writer.join();
  ::close(fds[0]);
  ::close(fds[1]);
  auto rs = reports.take();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].kind, unclog::StallKind::blocked) << rs[0].text();
  EXPECT_EQ(rs[0].line, line) << rs[0].text();
  EXPECT_THAT(rs[0].function, HasSubstr("read")) << rs[0].text();
  EXPECT_GE(rs[0].duration, 100ms) << rs[0].text();  // SA_RESTART: the read went on after sampling
}

TEST_F(Watch, MutexHeldByAnotherThreadIsBlocked) {
  std::mutex m;
  std::atomic<bool> locked{false};
  std::thread holder([&] {
    std::lock_guard lk(m);
    locked = true;
    std::this_thread::sleep_for(200ms);
  });
  while (!locked) std::this_thread::yield();
  int line = 0;
  unclog::run([&] {
    line = __LINE__; m.lock();
    m.unlock();
  });
  holder.join();
  auto rs = reports.take();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].kind, unclog::StallKind::blocked) << rs[0].text();
  EXPECT_EQ(rs[0].line, line) << rs[0].text();
}

TEST_F(Watch, FiberNameIsInTheReport) {
  unclog::run([] { unclog::spawn({.name = "crawler-3"}, [] { usleep(150000); }).join(); });
  auto rs = reports.take();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].fiber, "crawler-3");
  EXPECT_THAT(rs[0].text(), HasSubstr("fiber \"crawler-3\""));
}

TEST_F(Watch, GreenSleepsYieldsAndShortStepsAreQuiet) {
  unclog::run([] {
    std::vector<unclog::JoinHandle<void>> hs;
    for (int f = 0; f < 20; ++f) {
      hs.push_back(unclog::spawn([] {
        for (int i = 0; i < 200; ++i) {
          unclog::yield();
          if (i % 50 == 0) unclog::sleep_for(60ms);  // longer than the resolution, but green
          spin_cpu(20us);
        }
      }));
    }
    for (auto& h : hs) h.join();
  });
  EXPECT_TRUE(reports.take().empty());
}

TEST_F(Watch, OneReportPerBlockingStep) {
  const std::uint64_t before = unclog::blocking_report_count();
  unclog::run([] {
    usleep(150000);
    unclog::yield();
    usleep(150000);
  });
  EXPECT_EQ(reports.take().size(), 2u);
  EXPECT_EQ(unclog::blocking_report_count() - before, 2u);  // raised on this thread
}

// Fibers that yield to each other switch directly, without the loop: a stall
// in the middle of such a run is still reported once, for its own fiber, and
// the steps around it are not.
TEST_F(Watch, StallBetweenDirectSwitchesIsReportedForItsFiber) {
  run_direct_switches([] { spin_cpu(150ms); });
  auto rs = reports.take();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].fiber, "b");
  EXPECT_EQ(rs[0].kind, unclog::StallKind::cpu) << rs[0].text();
}

TEST_F(Watch, LongStallIsSampledAgain) {
  unclog::run([] { spin_cpu(450ms); });
  auto rs = reports.take();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_GE(rs[0].samples.size(), 2u) << rs[0].text();
  EXPECT_THAT(rs[0].text(), HasSubstr("still there at"));
}

TEST_F(Watch, AllowBlockingSilencesItsScopeOnly) {
  int line = 0;
  unclog::run([&] {
    {
      unclog::AllowBlocking allow("warming a cache");
      usleep(120000);
    }
    unclog::yield();
    line = __LINE__; usleep(150000);
  });
  auto rs = reports.take();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].line, line) << rs[0].text();
}

TEST_F(Watch, AllowedTimeIsNotCountedAgainstTheRestOfTheStep) {
  unclog::run([] {
    {
      unclog::AllowBlocking allow("fixture setup");
      usleep(120000);
    }
    spin_cpu(5ms);  // same step, short after the scope
  });
  EXPECT_TRUE(reports.take().empty());
}

TEST_F(Watch, DetectionOffMeansNoReports) {
  unclog::hub_blocking_detection(false);
  unclog::run([] { usleep(120000); });
  EXPECT_TRUE(reports.take().empty());
}

// Pins this thread and a busy sibling to CPU 0 for its lifetime: CPU work
// then takes about twice its CPU time in wall time, half of it waiting for
// the CPU.
// Pins the test thread and two busy threads to one CPU: the test thread gets
// about a third of it, so a step's wall time is about three times its CPU
// time, two thirds of it spent waiting for the CPU. Two hogs, not one: the
// margin between "on the CPU plus off it" and the resolution must absorb what
// the kernel's counters lag by on a loaded machine.
class SharedCpu {
 public:
  SharedCpu() {
    CPU_ZERO(&one_);
    CPU_SET(0, &one_);
    pthread_getaffinity_np(pthread_self(), sizeof saved_, &saved_);
    pthread_setaffinity_np(pthread_self(), sizeof one_, &one_);
    for (auto& hog : hogs_) {
      hog = std::thread([this] {
        pthread_setaffinity_np(pthread_self(), sizeof one_, &one_);
        volatile unsigned x = 0;
        while (!stop_.load(std::memory_order_relaxed)) x = x + 1;
      });
    }
    std::this_thread::sleep_for(20ms);
  }
  ~SharedCpu() {
    stop_ = true;
    for (auto& hog : hogs_) hog.join();
    pthread_setaffinity_np(pthread_self(), sizeof saved_, &saved_);
  }

 private:
  cpu_set_t one_, saved_;
  std::atomic<bool> stop_{false};
  std::thread hogs_[2];
};

TEST_F(Watch, PreemptionIsNotAStall) {
  std::chrono::nanoseconds wall{0};
  {
    SharedCpu shared;
    unclog::run([&] {
      for (int i = 0; i < 4; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        spin_cpu(25ms);  // 25 ms of CPU: about 75 ms of wall time, under the 50 ms resolution of work
        wall = std::max<std::chrono::nanoseconds>(wall, std::chrono::steady_clock::now() - t0);
        unclog::yield();
      }
    });
  }
  for (const auto& r : reports.take()) ADD_FAILURE() << r.text();
  // The scenario really happened: some step took longer than the resolution.
  EXPECT_GT(wall, 50ms) << "the sibling did not compete for the CPU";
}

// A step whose thread a debugger, a tracer (strace) or job control (SIGSTOP,
// Ctrl-Z) stopped was not blocked by its code: seen in the kernel at such a
// stop, its time counts as the outside world's, like a preemption.
TEST(ReportBuilder, AStoppedThreadIsNotBlocked) {
  using unclog::StallKind;
  unclog::watch::StepSlot slot;
  slot.resolution_ns.store(50'000'000);
  slot.base_seq.store(1);
  slot.kernel_wait_seq = 1;
  slot.base = {0, 0, 0, true};
  const unclog::watch::SchedStat end{100'000'000, 1'000'000, 0, true};  // 100 ms, 99 off-CPU
  for (const char* wait : {"ptrace_stop", "do_signal_stop", "anon_pipe_read"}) {
    std::snprintf(slot.kernel_wait, sizeof slot.kernel_wait, "%s", wait);
    const unclog::BlockingReport r = unclog::watch::build_report(slot, end, "step", false, true);
    EXPECT_EQ(r.kind, std::string(wait) == "anon_pipe_read" ? StallKind::blocked : StallKind::preempted) << wait;
  }
}

// A sleep the kernel counted as run delay (seen on Linux 6.18 beside busy
// processes: 149 ms of a 150 ms nanosleep) is still a sleep when the
// watchdog saw the thread asleep in it; without that sighting, the counters
// are all there is.
TEST(ReportBuilder, ASleepSeenByTheWatchdogIsNotRunDelay) {
  using unclog::StallKind;
  unclog::watch::StepSlot slot;
  slot.resolution_ns.store(50'000'000);
  slot.base_seq.store(1);
  slot.base = {0, 0, 0, true};
  const unclog::watch::SchedStat end{155'000'000, 2'000'000, 149'000'000, true};
  std::snprintf(slot.kernel_wait, sizeof slot.kernel_wait, "%s", "hrtimer_nanosleep");
  slot.kernel_wait_seq = 1;
  slot.asleep_off_cpu_ns = 52'000'000;  // asleep 52 ms in, nothing waited before
  unclog::BlockingReport r = unclog::watch::build_report(slot, end, "step", false, true);
  EXPECT_EQ(r.kind, StallKind::blocked);
  EXPECT_EQ(r.runqueue, 155ms - 2ms - 52ms);  // what may still have been a wait: after the sighting
  EXPECT_EQ(r.off_cpu, 52ms);
  slot.kernel_wait_seq = 0;  // the sighting was of another step
  r = unclog::watch::build_report(slot, end, "step", false, true);
  EXPECT_EQ(r.kind, StallKind::preempted);
  EXPECT_EQ(r.runqueue, 149ms);
}

TEST_F(Watch, PreemptionIsReportedWhenAsked) {
  unclog::set_report_preempted(true);
  {
    SharedCpu shared;
    unclog::run([] { spin_cpu(25ms); });
  }
  unclog::set_report_preempted(false);
  auto rs = reports.take();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].kind, unclog::StallKind::preempted) << rs[0].text();
  EXPECT_THAT(rs[0].text(), HasSubstr("preempted"));
}

TEST_F(Watch, BringYourOwnLoopSteps) {
  int line = 0;
  for (int i = 0; i < 3; ++i) {
    unclog::StepGuard step("my-loop");
    if (i == 1) { line = __LINE__; usleep(150000); }
  }
  auto rs = reports.take();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].fiber, "my-loop");
  EXPECT_EQ(rs[0].line, line) << rs[0].text();
}

TEST_F(Watch, JsonLinesSink) {
  const std::string path = ::testing::TempDir() + "unclog_reports.jsonl";
  ::unlink(path.c_str());
  ASSERT_TRUE(unclog::set_json_report_file(path));
  unclog::run([] { usleep(150000); });
  unclog::set_json_report_file("");
  FILE* f = fopen(path.c_str(), "r");
  ASSERT_NE(f, nullptr);
  char buf[65536];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  std::string s(buf, n);
  EXPECT_THAT(s, HasSubstr("\"kind\":\"blocked\""));
  EXPECT_THAT(s, HasSubstr("watch_test.cpp"));
  EXPECT_EQ(std::count(s.begin(), s.end(), '\n'), 1);
}

TEST_F(Watch, UnopenableReportFileIsAClearError) {
  std::string error;
  EXPECT_FALSE(unclog::set_json_report_file("/nonexistent-dir/x.jsonl", &error));
  EXPECT_THAT(error, HasSubstr("/nonexistent-dir/x.jsonl"));
}

using WatchDeathTest = Watch;

TEST_F(WatchDeathTest, HangExitsWithTheStack) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "ThreadSanitizer defers signals to a thread stuck in read()";
#endif
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        unclog::set_hang_timeout(1s);
        unclog::set_stderr_reports(true);
        int fds[2];
        if (pipe(fds) != 0) _exit(7);
        unclog::run([&] {
          char c;
          (void)!::read(fds[0], &c, 1);  // nobody ever writes
        });
        _exit(0);
      },
      ::testing::ExitedWithCode(1), "unclog: hang:.*read");
}

namespace {
// Whether this kernel shows a waiting thread's wchan (some hide it: "0").
bool wchan_readable() {
  std::atomic<pid_t> tid{0};
  std::thread sleeper([&] {
    tid = static_cast<pid_t>(syscall(SYS_gettid));
    std::this_thread::sleep_for(100ms);
  });
  while (!tid) std::this_thread::yield();
  std::this_thread::sleep_for(20ms);
  std::ifstream in("/proc/self/task/" + std::to_string(tid.load()) + "/wchan");
  std::string w;
  std::getline(in, w);
  sleeper.join();
  return !w.empty() && w != "0";
}
}  // namespace

// In a fresh process (a child), a stalled pipe read names the kernel's pipe
// read; a CPU hog names nothing.
TEST_F(Watch, BlockedReportsNameTheKernelWaitPoint) {
  if (!wchan_readable()) GTEST_SKIP() << "this kernel does not show wchan";
  const pid_t child = fork();
  if (child == 0) {
    std::string seen;
    {
      Reports mine;
      int fds[2];
      if (pipe(fds) != 0) _exit(10);
      // 600 ms: the child's watchdog is a new thread, which a loaded machine
      // (CI's ASan stage: 200 ms once gave no report) may start late.
      std::thread writer([&] {
        std::this_thread::sleep_for(600ms);
        (void)!::write(fds[1], "x", 1);
      });
      unclog::run([&] {
        char c;
        (void)!::read(fds[0], &c, 1);
      });
      writer.join();
      auto rs = mine.take();
      if (rs.size() != 1) {
        std::fprintf(stderr, "%zu reports\n", rs.size());
        for (const auto& r : rs) std::fprintf(stderr, "%s\n", r.text().c_str());
        _exit(11);
      }
      seen = rs[0].kernel_wait;
      const bool consistent = rs[0].text().find(", in the kernel at " + seen) != std::string::npos &&
                              rs[0].json().find("\"kernel_wait\":\"" + seen + "\"") != std::string::npos;
      if (!consistent) _exit(12);
    }
    std::fprintf(stderr, "kernel wait of a pipe read: %s\n", seen.c_str());
    _exit(seen.find("pipe") != std::string::npos ? 0 : 13);
  }
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "11: no single report, 12: text/JSON disagree, 13: no pipe wait named";
  unclog::run([&] { spin_cpu(150ms); });
  auto rs = reports.take();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].kernel_wait, "") << rs[0].text();
  EXPECT_EQ(rs[0].text().find("in the kernel at"), std::string::npos);
}

namespace {
__attribute__((noinline)) void stall_here() { usleep(120000); }
}  // namespace

TEST_F(Watch, FoldedStacksSumReportsOfTheSameStack) {
  const std::string path = ::testing::TempDir() + "unclog_folded_" + std::to_string(getpid()) + ".txt";
  ASSERT_TRUE(unclog::set_folded_file(path));
  // One lambda run twice: two lambdas are two functions, whose names differ
  // where they are not inlined (clang), and then so do the stacks.
  const auto stall = [] { stall_here(); };
  unclog::run(stall);
  unclog::run(stall);
  auto rs = reports.take();
  ASSERT_EQ(rs.size(), 2u);
  ASSERT_TRUE(unclog::set_folded_file(""));
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ::unlink(path.c_str());
  ASSERT_EQ(lines.size(), 1u) << "two reports of one stack are one line";
  const std::string& l = lines[0];
  const std::size_t space = l.rfind(' ');
  ASSERT_NE(space, std::string::npos);
  const long us = std::stol(l.substr(space + 1));
  const long expected = (rs[0].duration + rs[1].duration) / 1us;
  EXPECT_NEAR(us, expected, 2) << l;  // the sum of the two reports' durations
  const std::string stack = l.substr(0, space);
  EXPECT_EQ(stack.find(' '), std::string::npos);
  // Outermost first: the fiber's entry, then this test's helper, then the sleep.
  EXPECT_LT(stack.find("Hub::fiber_entry"), stack.find("stall_here")) << stack;
  EXPECT_LT(stack.find("stall_here"), stack.find("usleep")) << stack;
}

// A step judged on our reporter thread (watch/deferred_steps.hpp) reaches
// the sinks once waited for, with the test that ran when it ended, its stack
// and its remedy; judge_later copies what it needs, as the slot is reused.
TEST_F(Watch, ADeferredStepIsReportedWithItsTestOnceWaitedFor) {
  EXPECT_FALSE(unclog::watch::judge_elsewhere()) << "outside a condition wait";
  unclog::BlockingReport report;
  report.duration = 90ms;
  report.off_cpu = 90ms;
  report.resolution = 50ms;
  report.timed = true;
  report.kind = unclog::StallKind::blocked;
  report.fiber = "deferred";
  auto sample = std::make_unique<unclog::watch::Sample>();
  sample->at_ns = 1000;
  sample->nframes = unclog::watch::capture_stack(sample->frames, unclog::watch::kMaxFrames, false);
  ASSERT_GT(sample->nframes, 0);
  unclog::watch::StepEvidence e;
  e.over = true;
  e.samples = sample.get();
  e.nsamples = 1;
  e.loop_step = true;
  std::string runner = "test loop";
  e.loop_runner = runner.c_str();
  const char* hints[4] = {"the loop's remedy", nullptr, nullptr, nullptr};
  e.loop_hints = hints;
  unclog::watch::set_current_test("Deferred.Test");
  unclog::watch::judge_later(std::move(report), e);
  unclog::watch::set_current_test(nullptr);
  sample.reset();  // the slot's next step reuses all of these
  runner = "overwritten";
  hints[0] = "overwritten";
  unclog::watch::wait_for_deferred_steps();
  auto got = reports.take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].test, "Deferred.Test");
  EXPECT_EQ(got[0].fiber, "deferred");
  EXPECT_EQ(base_name(got[0].file), "watch_test.cpp") << got[0].text();
  EXPECT_EQ(got[0].loop, "test loop");
  EXPECT_EQ(got[0].hint, "the loop's remedy");
  EXPECT_FALSE(got[0].library) << "the test's frame is inside the loop";
}

// A loop step blocked in a lock taken deep inside what the user called
// (Asio's scheduler lock inside async_read_some) gets the loop's remedy for
// a lock, never one that offers an I/O call.
TEST(Hints, ATimeStallInALockGetsTheLoopsLockRemedy) {
  const char* const hints[4] = {"blocked remedy", "sleep remedy", "cpu remedy", "lock remedy"};
  unclog::BlockingReport r;
  r.kind = unclog::StallKind::blocked;
  r.function = "async_read_some";
  unclog::StackSample sample;
  for (const char* f : {"__lll_lock_wait", "pthread_mutex_lock", "boost::asio::detail::posix_mutex::lock",
                        "async_read_some"}) {
    sample.frames.push_back({});
    sample.frames.back().function = f;
  }
  sample.frames.push_back({});
  sample.frames.back().function = "Session::read";
  sample.frames.back().user = true;
  sample.frames.push_back({});
  sample.frames.back().function = "pthread_mutex_lock";  // further out than the user's frame: not this stall's
  r.samples.push_back(sample);
  EXPECT_EQ(unclog::watch::hint_for(r, hints), "lock remedy");
  r.samples[0].frames.erase(r.samples[0].frames.begin(), r.samples[0].frames.begin() + 3);
  EXPECT_EQ(unclog::watch::hint_for(r, hints), "blocked remedy");
}

// Names as reports print them: a lambda by the function it is in, never a
// template cut in half.
TEST(ShortName, LambdasAreNamedByTheirFunction) {
  using unclog::watch::short_name;
  EXPECT_EQ(short_name("TimerTest_StartAndStop_Test::TestBody()::{lambda(uvw::timer_event const&, "
                       "uvw::timer_handle&)#1}::operator()(uvw::timer_event const&, uvw::timer_handle&) const"),
            "lambda in TimerTest_StartAndStop_Test::TestBody");
  EXPECT_EQ(short_name("uvw::emitter<uvw::timer_handle, uvw::timer_event>::publish<uvw::timer_event>(uvw::timer_"
                       "event)::{lambda(auto:1&)#1}::operator()<std::function<void (uvw::timer_event&, "
                       "uvw::timer_handle&)> >(auto:1&) const"),
            "lambda in uvw::emitter::publish");
  EXPECT_EQ(short_name("void (anonymous namespace)::run_test<int>(int)::{lambda()#2}::operator()() const"),
            "lambda in run_test");
  EXPECT_EQ(short_name("void crawler::throttle(std::chrono::duration<long, std::ratio<1l, 1000l> >)"),
            "crawler::throttle");
  EXPECT_EQ(short_name("std::vector<int, std::allocator<int> >::push_back(int const&)"), "std::vector::push_back");
  // A generic lambda's call operator as the line tables name it: no scope,
  // template arguments after operator() (it read as "uvw::timer_handle>").
  EXPECT_EQ(short_name("operator()<uvw::timer_event, uvw::timer_handle>"), "operator()");
  EXPECT_EQ(short_name("std::operator<< <char>(std::ostream&, char const*)"), "std::operator<<");
  EXPECT_EQ(short_name("bool operator< <int>(Box<int> const&, Box<int> const&)"), "operator<");
  // GCC's clones, as the symbol table names them: an Asio pool's loop read
  // as ".isra.0]".
  EXPECT_EQ(short_name("boost::asio::detail::scheduler::do_run_one(boost::asio::detail::conditionally_enabled_mutex::"
                       "scoped_lock&, boost::asio::detail::scheduler_thread_info&, boost::system::error_code const&) "
                       "[clone .isra.0]"),
            "boost::asio::detail::scheduler::do_run_one");
  EXPECT_EQ(short_name("foo(int) [clone .constprop.0] [clone .cold]"), "foo");
}

namespace symtab_case {
[[gnu::noinline]] int a_function_of_the_test_program(int x) {
  asm volatile("" ::: "memory");
  return x * 3 + 1;
}
int a_variable_of_the_test_program = 7;
}  // namespace symtab_case

// The function around a pc, from the ELF symbol table alone: the program's
// own (its .symtab, a local function included), a library's (libc's
// exported ones, from .dynsym), none for data; the same answers again
// from the table read the first time.
TEST(SymbolTable, NamesTheFunctionAroundAPc) {
  using unclog::watch::function_symbol_at;
  const auto fn = reinterpret_cast<std::uintptr_t>(&symtab_case::a_function_of_the_test_program);
  for (int pass = 0; pass < 2; ++pass) {
    EXPECT_EQ(function_symbol_at(fn + 1), "symtab_case::a_function_of_the_test_program(int)");
    EXPECT_EQ(function_symbol_at(reinterpret_cast<std::uintptr_t>(&::getppid) + 1), "getppid");
    EXPECT_EQ(function_symbol_at(reinterpret_cast<std::uintptr_t>(&symtab_case::a_variable_of_the_test_program)), "");
  }
  EXPECT_EQ(function_symbol_at(0), "");
}
