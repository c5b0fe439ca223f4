// The harness must never be the flaky or crashing part of a test suite:
// stack overflows, users' signals, fork(), samples landing in awkward places.
#include <dlfcn.h>
#include <link.h>
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <stdexcept>
#include <vector>

#include "unclog/unclog.hpp"
#include "loops/known_loops.hpp"
#include "watch/symbolize.hpp"

using namespace std::chrono_literals;

// Walks of the loader's list made by the calling thread. This program's
// definition comes first in the lookup order, before libc's (and a
// sanitizer's, which it then calls). A walk by a thread with t_pause_walk
// set stops in its first callback, the list's lock held, until
// g_walk_release (ten seconds at most): a slow walk on demand.
namespace {
using PhdrCallback = int (*)(dl_phdr_info*, std::size_t, void*);
thread_local int t_loader_walks = 0;
thread_local bool t_pause_walk = false;
std::atomic<bool> g_walk_paused{false};
std::atomic<bool> g_walk_release{false};
struct PausedWalk {
  PhdrCallback callback;
  void* data;
  bool paused;
};
[[maybe_unused]] int pause_then_call(dl_phdr_info* info, std::size_t size, void* arg) {
  auto* walk = static_cast<PausedWalk*>(arg);
  if (!walk->paused) {
    walk->paused = true;
    g_walk_paused = true;
    for (int i = 0; i < 10000 && !g_walk_release; ++i) usleep(1000);
  }
  return walk->callback(info, size, walk->data);
}
}  // namespace
// Not under AddressSanitizer: its runtime walks the list while it starts,
// before this definition can find the next one.
#if defined(__SANITIZE_ADDRESS__)
#define UNCLOG_COUNTS_WALKS 0
#else
#define UNCLOG_COUNTS_WALKS 1
extern "C" int dl_iterate_phdr(PhdrCallback callback, void* data) {
  using Walk = int (*)(PhdrCallback, void*);
  static const auto next = reinterpret_cast<Walk>(dlsym(RTLD_NEXT, "dl_iterate_phdr"));
  ++t_loader_walks;
  if (!t_pause_walk) return next(callback, data);
  PausedWalk walk{callback, data, false};
  return next(pause_then_call, &walk);
}
#endif

namespace {

class Reports {
 public:
  Reports() {
    unclog::set_stderr_reports(false);
    unclog::hub_blocking_detection(true, 50ms);
    id_ = unclog::add_report_sink([this](const unclog::BlockingReport& r) {
      std::lock_guard lk(mu_);
      kinds_.push_back(r.kind);
    });
  }
  ~Reports() {
    unclog::remove_report_sink(id_);
    unclog::hub_blocking_detection(false);
    unclog::set_stderr_reports(true);
  }
  std::size_t count() {
    std::lock_guard lk(mu_);
    return kinds_.size();
  }

 private:
  int id_;
  std::mutex mu_;
  std::vector<unclog::StallKind> kinds_;
};

int recurse(int depth) {
  volatile char pad[1024];
  pad[0] = static_cast<char>(depth);
  return depth > 1000000 ? pad[0] : recurse(depth + 1) + pad[0];
}

std::atomic<int> g_alarms{0};
void on_alarm(int) { g_alarms.fetch_add(1); }

}  // namespace

std::int64_t thread_cpu_ns() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}

TEST(ReliabilityDeathTest, StackOverflowIsReportedByName) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(unclog::run([] {
                 unclog::spawn({.name = "deep", .stack_size = 64 * 1024}, [] { return recurse(0); }).join();
               }),
               "unclog: fiber \"deep\" overflowed its 64 KiB stack");
}

TEST(Reliability, UsersSignalHandlersAndTimersKeepWorking) {
  Reports reports;
  struct sigaction sa {}, old{};
  sa.sa_handler = on_alarm;
  sigemptyset(&sa.sa_mask);
  ASSERT_EQ(sigaction(SIGALRM, &sa, &old), 0);
  g_alarms = 0;
  unclog::run([] {
    itimerval every_10ms{{0, 10000}, {0, 10000}};
    setitimer(ITIMER_REAL, &every_10ms, nullptr);
    unclog::sleep_for(100ms);  // green: the timer's signals interrupt the hub's wait
    // A CPU hog (a sleep would be cut short by the user's own alarms): our
    // sampling signal and the user's alarms both land.
    timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    const std::int64_t end = t.tv_sec * 1000000000LL + t.tv_nsec + 150'000'000;  // of CPU time
    volatile unsigned x = 0;
    do {
      for (int i = 0; i < 100000; ++i) x = x + i;
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    } while (t.tv_sec * 1000000000LL + t.tv_nsec < end);
    itimerval off{};
    setitimer(ITIMER_REAL, &off, nullptr);
  });
  sigaction(SIGALRM, &old, nullptr);
  EXPECT_GE(g_alarms.load(), 5);
  EXPECT_GE(reports.count(), 1u);
}

TEST(Reliability, SamplerNeverTakesAUsersSignal) {
  // Whatever real-time signal the sampler chose, it was free: our handler
  // is installed on it, and SIGUSR1/SIGUSR2/SIGALRM are left alone.
  Reports reports;
  unclog::run([] { usleep(80000); });
  for (int sig : {SIGUSR1, SIGUSR2, SIGALRM}) {
    struct sigaction cur {};
    sigaction(sig, nullptr, &cur);
    EXPECT_EQ(cur.sa_handler, SIG_DFL) << sig;
  }
}

TEST(Reliability, ForkInAWatchedProcessWorksInTheChild) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "ThreadSanitizer does not support starting threads after a multi-threaded fork";
#endif
  Reports reports;
  unclog::run([] { usleep(150000); });  // the watchdog is running now
  ASSERT_GE(reports.count(), 1u);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // The child has no watchdog thread; detection must start a new one and
    // work, and nothing may deadlock on locks the parent's threads held.
    std::atomic<int> seen{0};
    unclog::add_report_sink([&](const unclog::BlockingReport&) { seen++; });
    unclog::run([] {
      usleep(150000);
      unclog::sleep_for(10ms);
    });
    _exit(seen.load() >= 1 ? 0 : 3);
  }
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (waitpid(pid, &status, WNOHANG) == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(WIFEXITED(status)) << "child did not finish";
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(Reliability, ForkAndExecFromAFiber) {
  Reports reports;
  unclog::run([] {
    pid_t pid = fork();
    if (pid == 0) {
      execl("/bin/true", "true", static_cast<char*>(nullptr));
      _exit(127);
    }
    ASSERT_GT(pid, 0);
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) unclog::sleep_for(1ms);
    EXPECT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
  });
}

TEST(Reliability, SamplesDuringExceptionUnwindingDoNoHarm) {
  Reports reports;
  long caught = 0;
  unclog::run([&] {
    const std::int64_t end = thread_cpu_ns() + 300'000'000;  // CPU time: a busy machine only slows it
    while (thread_cpu_ns() < end) {
      try {
        throw std::runtime_error("unwind me");
      } catch (const std::runtime_error&) {
        ++caught;
      }
    }
  });
  EXPECT_GT(caught, 100);
  EXPECT_EQ(reports.count(), 1u);  // a CPU hog, sampled several times
}

TEST(Reliability, SamplesInsideMallocDoNoHarm) {
  Reports reports;
  std::size_t total = 0;
  unclog::run([&] {
    const std::int64_t end = thread_cpu_ns() + 300'000'000;  // CPU time: a busy machine only slows it
    while (thread_cpu_ns() < end) {
      std::vector<void*> blocks;
      for (int i = 0; i < 64; ++i) blocks.push_back(std::malloc(static_cast<std::size_t>(16 + i * 64)));
      for (void* b : blocks) std::free(b);
      total += blocks.size();
    }
  });
  EXPECT_GT(total, 1000u);
  EXPECT_EQ(reports.count(), 1u);
}

TEST(Reliability, MoreFibersThanTheMappingLimitAllowsGuardPagesFor) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "ThreadSanitizer tracks at most 8128 threads and fibers";
#endif
  // With mprotect'ed guards, 40,000 stacks need 80,000 mappings (the
  // default vm.max_map_count is 65,530): guards must not cost mappings, or
  // the pool must fall back to unguarded stacks, never fail.
  unclog::set_default_stack_size(16 * 1024);
  int done = 0;
  unclog::run([&] {
    for (int i = 0; i < 40000; ++i) unclog::spawn([&] {
        unclog::yield();
        ++done;
      }).detach();
  });
  unclog::set_default_stack_size(256 * 1024);
  EXPECT_EQ(done, 40000);
}

// A pc that neither debug information nor a symbol names, symbolized on a
// new thread once the process has read its debug information: nothing is
// read again. Boost.Stacktrace's frame::name(), the old last resort, built a
// libbacktrace state per thread and walked the loader's list to read every
// object's debug information inside the walk (150 ms, the list's lock held:
// an Asio pool thread judging a condition wait waited for it holding Asio's
// lock, and its peers were reported for that).
TEST(Reliability, SymbolizingOnANewThreadReadsNoDebugInformationAgain) {
  if (!UNCLOG_COUNTS_WALKS) GTEST_SKIP() << "walks are not counted under AddressSanitizer";
  const auto known = reinterpret_cast<std::uintptr_t>(&unclog::yield);
  ASSERT_FALSE(unclog::watch::symbolize(&known, 1).empty());
  const auto heap = std::make_unique<char[]>(64);
  const auto nowhere = reinterpret_cast<std::uintptr_t>(heap.get());
  int walks = -1;
  std::vector<unclog::StackFrame> frames;
  std::thread([&] {
    frames = unclog::watch::symbolize(&nowhere, 1);
    walks = t_loader_walks;
  }).join();
  EXPECT_EQ(walks, 0);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].function, "");
}

namespace {
[[gnu::noinline]] void waits_on_a_condition() { asm volatile("" ::: "memory"); }
}  // namespace
// A function named as Asio's idle wait is (its symbol says
// "asio::detail::posix_event::wait"): the symbol table alone tells.
namespace fake::asio::detail {
struct posix_event {
  [[gnu::noinline]] static void wait() { asm volatile("" ::: "memory"); }
};
}  // namespace fake::asio::detail

// The process's first symbolization reads the debug information inside a
// walk of the loader's list, holding its lock (100-250 ms). A thread judging
// a new condition wait site meanwhile holds the program's mutex (Asio's
// scheduler lock, in a pool): it never waits for the loader's lock (and
// every thread of the pool for it). Asio's idle wait is still told by its
// symbol, or the pool thread's step would run through it; a site only the
// line tables could tell gets no verdict for now. Run in a fresh process
// (nothing symbolized yet), the first read held inside its walk.
TEST(ReliabilityDeathTest, NoConditionWaitWaitsForTheFirstSymbolization) {
  if (!UNCLOG_COUNTS_WALKS) GTEST_SKIP() << "walks are not counted under AddressSanitizer";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        std::thread reader([] {
          t_pause_walk = true;
          const auto pc = reinterpret_cast<std::uintptr_t>(&unclog::yield);
          (void)unclog::watch::symbolize(&pc, 1);
        });
        while (!g_walk_paused) usleep(1000);
        std::atomic<int> walks{-1};
        std::atomic<bool> asio_idle{false};
        std::thread judge([&] {
          const auto site = reinterpret_cast<std::uintptr_t>(&waits_on_a_condition) + 1;
          (void)unclog::loops::loop_of_wait(site, /*fd_wait=*/false);
          const auto idle = reinterpret_cast<std::uintptr_t>(&fake::asio::detail::posix_event::wait) + 1;
          asio_idle = unclog::loops::loop_of_wait(idle, /*fd_wait=*/false) == &unclog::loops::asio_loop();
          walks = t_loader_walks;
        });
        // It returns at once, or (walking the list) once the reader lets go.
        for (int i = 0; i < 5000 && walks < 0; ++i) usleep(1000);
        const int seen = walks;
        const bool idle_is_asio = asio_idle;
        g_walk_release = true;
        judge.join();
        reader.join();
        std::fprintf(stderr, "walks while the first symbolization read: %d; Asio's idle wait judged Asio's: %d\n",
                     seen, idle_is_asio ? 1 : 0);
        std::exit(seen == 0 && idle_is_asio ? 0 : 1);
      },
      ::testing::ExitedWithCode(0),
      "walks while the first symbolization read: 0; Asio's idle wait judged Asio's: 1");
}
