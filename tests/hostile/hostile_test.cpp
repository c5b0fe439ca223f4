// Hostile environments: with unclog, a program does what it does without it,
// plus reports. Each test sets up what used to kill, interrupt or blind the
// program under our gtest main (call mode and system-call traps on), then
// checks that the program's own behaviour is unchanged and that a blocking
// call planted after it is still caught at its line.
#include <fcntl.h>
#include <gtest/gtest-spi.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <gmock/gmock.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "unclog/gtest.hpp"

// The legacy signal functions are what these tests are about.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

using namespace std::chrono_literals;
using ::testing::HasSubstr;

// Legacy entry points glibc exports but no longer always declares.
extern "C" {
sighandler_t bsd_signal(int, sighandler_t);
sighandler_t sysv_signal(int, sighandler_t);
}

namespace {

// A read that only a trapped system call sees: fgets on a pipe reads inside
// libc, past the interposed functions. Returns with a line once the writer
// thread (started here) has written it, 20 ms later.
struct PipeLine {
  int fds[2] = {-1, -1};
  FILE* in = nullptr;
  std::thread writer;
  PipeLine() {
    if (pipe2(fds, O_CLOEXEC) != 0) return;
    in = fdopen(fds[0], "r");
    writer = std::thread([w = fds[1]] {
      std::this_thread::sleep_for(20ms);
      (void)!::write(w, "line\n", 5);
    });
  }
  ~PipeLine() {
    if (writer.joinable()) writer.join();
    if (in) fclose(in);
    ::close(fds[1]);
  }
  static inline int fgets_line = 0;
  bool read_line() {
    char buf[16];
    fgets_line = __LINE__; return fgets(buf, sizeof buf, in) != nullptr;
  }
};

// The step after a hostile setup: a blocking read hidden in libc, which
// must be reported (as read, at the fgets line), and must work.
// Whether this thread's system calls are trapped (valgrind, TSan, a tracer
// or an old kernel rule it out, with a notice).
bool traps_here() {
  EXPECT_NO_BLOCKING({});  // arms this thread if it can be
  for (const std::string& limit : unclog::watch_limitations()) {
    if (limit.find("system calls are not trapped") != std::string::npos) return false;
  }
  return unclog::syscall_detection_enabled();
}

void expect_trapped_read_caught() {
  if (!traps_here()) GTEST_SKIP() << "system calls are not trapped here";
  PipeLine p;
  bool got = false;
  ::testing::TestPartResultArray failures;
  {
    ::testing::ScopedFakeTestPartResultReporter rep(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &failures);
    EXPECT_NO_BLOCKING(got = p.read_line());
  }
  EXPECT_TRUE(got);
  ASSERT_EQ(failures.size(), 1);
  const ::testing::TestPartResult& f = failures.GetTestPartResult(0);
  EXPECT_THAT(f.message(), HasSubstr("read(")) << f.message();
  EXPECT_THAT(f.message(), HasSubstr("in fgets")) << f.message();
  EXPECT_EQ(f.line_number(), PipeLine::fgets_line) << f.message();
}

sigset_t only_sigsys() {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGSYS);
  return s;
}

// Every way of blocking SIGSYS outside a step leaves the next step alive and
// watched. Each test restores the mask it found.
class SigsysBlocked : public ::testing::Test {
 protected:
  void SetUp() override { pthread_sigmask(SIG_SETMASK, nullptr, &saved_); }
  void TearDown() override { pthread_sigmask(SIG_SETMASK, &saved_, nullptr); }
  sigset_t saved_;
};

TEST_F(SigsysBlocked, RawRtSigprocmask) {
  const sigset_t s = only_sigsys();
  ASSERT_EQ(syscall(SYS_rt_sigprocmask, SIG_BLOCK, &s, nullptr, 8), 0);
  expect_trapped_read_caught();
}

TEST_F(SigsysBlocked, Sighold) {
  ASSERT_EQ(sighold(SIGSYS), 0);
  expect_trapped_read_caught();
  EXPECT_EQ(sigrelse(SIGSYS), 0);
}

TEST_F(SigsysBlocked, SigsetHold) {
  ASSERT_NE(sigset(SIGSYS, SIG_HOLD), SIG_ERR);
  expect_trapped_read_caught();
}

TEST_F(SigsysBlocked, SiglongjmpRestoresAMaskSavedWithSigsys) {
  sigjmp_buf env;
  volatile int jumped = 0;
  if (sigsetjmp(env, 1) == 0) {
    // As if saved before this thread trapped anything, with SIGSYS blocked.
    sigaddset(&env[0].__saved_mask, SIGSYS);
    siglongjmp(env, 1);
  } else {
    jumped = 1;
  }
  EXPECT_EQ(jumped, 1);
  expect_trapped_read_caught();
}

TEST_F(SigsysBlocked, SetcontextRestoresAMaskWithSigsys) {
  ucontext_t ctx;
  volatile int resumed = 0;
  // No assertion macro around getcontext: its scope is re-entered by
  // setcontext, which AddressSanitizer would see as a use after scope.
  const volatile int got = getcontext(&ctx);
  if (got == 0 && !resumed) {
    resumed = 1;
    sigaddset(&ctx.uc_sigmask, SIGSYS);
    setcontext(&ctx);
  }
  EXPECT_EQ(got, 0);
  EXPECT_EQ(resumed, 1);
  expect_trapped_read_caught();
}

// Every way of ignoring SIGSYS or changing its handler keeps ours in
// place; the program's choice is remembered for SIGSYS that is not ours.
class SigsysDisposition : public ::testing::Test {
 protected:
  void SetUp() override { sigaction(SIGSYS, nullptr, &saved_); }
  void TearDown() override { sigaction(SIGSYS, &saved_, nullptr); }
  struct sigaction saved_ {};
};

void on_sigsys_ignored(int) {}

TEST_F(SigsysDisposition, SigsetIgnore) {
  ASSERT_NE(sigset(SIGSYS, SIG_IGN), SIG_ERR);
  expect_trapped_read_caught();
  EXPECT_EQ(sigset(SIGSYS, SIG_DFL), SIG_IGN);  // what the program set is what it reads back
}

TEST_F(SigsysDisposition, BsdSignalIgnore) {
  ASSERT_NE(bsd_signal(SIGSYS, SIG_IGN), SIG_ERR);
  expect_trapped_read_caught();
}

TEST_F(SigsysDisposition, SysvSignalIgnore) {
  ASSERT_NE(sysv_signal(SIGSYS, SIG_IGN), SIG_ERR);
  expect_trapped_read_caught();
}

TEST_F(SigsysDisposition, Sigignore) {
  ASSERT_EQ(sigignore(SIGSYS), 0);
  expect_trapped_read_caught();
}

TEST_F(SigsysDisposition, SiginterruptKeepsOurRestorer) {
  signal(SIGSYS, on_sigsys_ignored);
  ASSERT_EQ(siginterrupt(SIGSYS, 1), 0);
  expect_trapped_read_caught();
  struct sigaction now {};
  sigaction(SIGSYS, nullptr, &now);
  EXPECT_EQ(now.sa_handler, &on_sigsys_ignored);
  EXPECT_FALSE(now.sa_flags & SA_RESTART);
}

// rt_sigaction by a syscall instruction of the program's own, as a
// statically linked runtime would make it.
struct KernelSigaction {
  void* handler;
  unsigned long flags;
  void* restorer;
  unsigned long mask;
};
long inline_rt_sigaction(int sig, const KernelSigaction* act, KernelSigaction* old) {
  register long r10 asm("r10") = 8;
  long r;
  asm volatile("syscall" : "=a"(r) : "0"(long{SYS_rt_sigaction}), "D"(long{sig}), "S"(act), "d"(old), "r"(r10)
               : "rcx", "r11", "memory");
  return r;
}

TEST_F(SigsysDisposition, RawRtSigactionThroughSyscallAndInAStep) {
  const KernelSigaction ign{reinterpret_cast<void*>(SIG_IGN), 0, nullptr, 0};
  KernelSigaction old{};
  ASSERT_EQ(syscall(SYS_rt_sigaction, SIGSYS, &ign, &old, 8), 0);
  expect_trapped_read_caught();
  long r = -1;
  EXPECT_NO_BLOCKING(r = inline_rt_sigaction(SIGSYS, &ign, &old));  // trapped: emulated
  EXPECT_EQ(r, 0);
  EXPECT_EQ(old.handler, reinterpret_cast<void*>(SIG_IGN));
  expect_trapped_read_caught();
  struct sigaction now {};
  sigaction(SIGSYS, nullptr, &now);
  EXPECT_EQ(now.sa_handler, SIG_IGN);
}

// Traps come back at the next step, whatever the step before did.
TEST(TrapsComeBack, AfterAStepCreatedAThread) {
  if (!traps_here()) GTEST_SKIP() << "system calls are not trapped here";
  PipeLine p;
  EXPECT_NONFATAL_FAILURE(EXPECT_NO_BLOCKING({
                            // One pass runs both: the maker's yield hands over
                            // to the reader by a direct switch.
                            auto maker = unclog::spawn([] {
                              std::thread t([] {});  // clone3: re-run in place, untrapped
                              t.detach();
                              unclog::yield();
                            });
                            auto reader = unclog::spawn([&] { (void)p.read_line(); });
                            maker.join();
                            reader.join();
                          }),
                          "read(");
}

TEST(TrapsComeBack, AQueryOfTheAlternateStackKeepsTheStepTrapped) {
  if (!traps_here()) GTEST_SKIP() << "system calls are not trapped here";
  PipeLine p;
  EXPECT_NONFATAL_FAILURE(EXPECT_NO_BLOCKING({
                            stack_t current{};
                            (void)sigaltstack(nullptr, &current);  // AddressSanitizer asks at every longjmp
                            (void)p.read_line();
                          }),
                          "read(");
}

sigjmp_buf g_out;
void jump_out(int) { siglongjmp(g_out, 1); }

TEST(TrapsComeBack, AfterASiglongjmpOutOfAHandlerNestedInTheTrap) {
  if (!traps_here()) GTEST_SKIP() << "system calls are not trapped here";
  struct sigaction act {}, old{};
  act.sa_handler = jump_out;
  sigaction(SIGUSR1, &act, &old);
  PipeLine p;
  EXPECT_NONFATAL_FAILURE(EXPECT_NO_BLOCKING({
                            // raise is a trapped tgkill; SIGUSR1 lands inside
                            // the SIGSYS handler and jumps out of it.
                            if (sigsetjmp(g_out, 1) == 0) raise(SIGUSR1);
                            (void)p.read_line();  // the same step, trapped again
                          }),
                          "read(");
  sigaction(SIGUSR1, &old, nullptr);
}

// No EINTR from unclog: a call sampled while it blocks returns what it
// would have returned.
// Time mode only: with call mode on, a blocking call's step is never
// signalled (its stack is known already).
class NoEintr : public ::testing::Test {
 protected:
  void SetUp() override { unclog::set_call_detection(false); }
  void TearDown() override { unclog::set_call_detection(true); }
};

TEST_F(NoEintr, PollThatTimesOutReturnsZeroAndIsReported) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  for (int i = 0; i < 5; ++i) {
    int r = -2, err = 0;
    EXPECT_NONFATAL_FAILURE(EXPECT_NO_BLOCKING({
                              pollfd p{sv[0], POLLIN, 0};
                              r = poll(&p, 1, 150);  // resolution 50 ms: sampled twice
                              err = errno;
                            }),
                            "poll");
    EXPECT_EQ(r, 0) << std::strerror(err);  // not -1 with EINTR
  }
  ::close(sv[0]);
  ::close(sv[1]);
}

TEST_F(NoEintr, SleepIsSampledAtItsLineWithoutBeingCut) {
  for (int i = 0; i < 3; ++i) {
    int r = -2;
    const auto t0 = std::chrono::steady_clock::now();
    auto failures = ::testing::TestPartResultArray();
    {
      ::testing::ScopedFakeTestPartResultReporter rep(
          ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &failures);
      EXPECT_NO_BLOCKING({
        timespec ts{0, 200'000'000};
        r = nanosleep(&ts, nullptr);
      });
    }
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 195ms);
    EXPECT_EQ(r, 0);
    ASSERT_EQ(failures.size(), 1);
    const std::string msg = failures.GetTestPartResult(0).message();
    EXPECT_THAT(msg, HasSubstr("blocked")) << msg;
    EXPECT_THAT(msg, HasSubstr("nanosleep")) << msg;
    // The stack starts at the call the test made, not in our sampler or
    // call window (the sample is taken there, when the call returns).
    EXPECT_THAT(msg, HasSubstr("#0 nanosleep\n")) << msg;
    EXPECT_THAT(msg, ::testing::Not(HasSubstr("routing.cpp"))) << msg;  // our glue is no frame of the user's
    EXPECT_THAT(msg, ::testing::Not(HasSubstr("unclog::watch"))) << msg;
    EXPECT_THAT(msg, ::testing::Not(HasSubstr("unclog::calls"))) << msg;
    EXPECT_THAT(std::string(failures.GetTestPartResult(0).file_name()), HasSubstr("hostile_test.cpp"));
  }
}

// A wait made past our interposed functions and traps (a raw `syscall`
// instruction, as liburing makes; traps off, as under valgrind or on old
// kernels) has no CallWindow. The kernel ends these with EINTR when any
// handler runs, SA_RESTART or not: the watchdog leaves such a thread
// unsignalled, and the step is still reported, without a stack.
#if defined(__x86_64__)
long raw_syscall3(long nr, long a, long b, long c) {
  long r;
  asm volatile("syscall" : "=a"(r) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return r;
}

TEST_F(NoEintr, RawSystemCallWaitsAreNotCut) {
  unclog::set_syscall_detection(false);
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  for (int i = 0; i < 3; ++i) {
    long slept = -1, polled = -1;
    EXPECT_NONFATAL_FAILURE(EXPECT_NO_BLOCKING({
                              timespec ts{0, 150'000'000};  // resolution 50 ms: sampled twice at least
                              slept = raw_syscall3(SYS_nanosleep, reinterpret_cast<long>(&ts), 0, 0);
                            }),
                            "blocked");
    EXPECT_EQ(slept, 0);  // not -EINTR
    EXPECT_NONFATAL_FAILURE(EXPECT_NO_BLOCKING({
                              pollfd p{sv[0], POLLIN, 0};
                              polled = raw_syscall3(SYS_poll, reinterpret_cast<long>(&p), 1, 150);
                            }),
                            "blocked");
    EXPECT_EQ(polled, 0);  // timed out, not -EINTR
  }
  unclog::set_syscall_detection(true);
  ::close(sv[0]);
  ::close(sv[1]);
}

// A read on a socket with a receive timeout is never restarted after a
// handler, SA_RESTART or not (signal(7)), and a raw one passes no CallWindow:
// the watchdog must not signal a thread there. Without us the read gets the
// data written 150 ms later.
TEST_F(NoEintr, RawReadOnASocketWithATimeoutIsNotCut) {
  unclog::set_syscall_detection(false);
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  timeval tv{2, 0};
  ASSERT_EQ(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
  for (int i = 0; i < 3; ++i) {
    std::thread writer([w = sv[1]] {
      std::this_thread::sleep_for(150ms);
      (void)!::write(w, "data", 4);
    });
    long got = -1;
    char buf[8];
    EXPECT_NONFATAL_FAILURE(EXPECT_NO_BLOCKING({
                              got = raw_syscall3(SYS_read, sv[0], reinterpret_cast<long>(buf), sizeof buf);
                            }),
                            "blocked");
    writer.join();
    EXPECT_EQ(got, 4);  // not -EINTR
  }
  unclog::set_syscall_detection(true);
  ::close(sv[0]);
  ::close(sv[1]);
}
#endif

// Our own first-use work is not billed to the user.
TEST(OurTimeIsNotTheSteps, PollWithZeroTimeoutIsQuiet) {
  for (int i = 0; i < 20; ++i) {
    EXPECT_NO_BLOCKING({
      pollfd p{0, POLLIN, 0};
      (void)poll(&p, 1, 0);
    });
  }
}

// Nothing lost: a call made before an AllowBlocking scope in the same step.
TEST(NothingLost, CallBeforeAnAllowBlockingScopeIsReported) {
  EXPECT_NONFATAL_FAILURE(EXPECT_NO_BLOCKING({
                            usleep(1000);
                            { unclog::AllowBlocking allowed("unrelated, later"); }
                          }),
                          "usleep");
}

// A tracer that attaches after this thread armed its traps (a debugger
// attached to a running test) is noticed, and traps are withdrawn: the
// program goes on, with a notice naming it. Run last: it leaves the
// process untrapped. The tracer is a child that seizes us and passes every
// signal on, as strace does.
TEST(ZTracer, AttachedAfterArmingWithdrawsTraps) {
  if (!traps_here()) GTEST_SKIP() << "system calls are not trapped here";
  prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY);
  const pid_t me = getpid();
  int ready[2];
  ASSERT_EQ(pipe2(ready, O_CLOEXEC), 0);
  const pid_t tracer = fork();
  if (tracer == 0) {
    if (ptrace(PTRACE_SEIZE, me, nullptr, nullptr) != 0) _exit(1);
    (void)!::write(ready[1], "x", 1);
    // Pass every stop on with its signal, for any thread, until we are killed.
    for (;;) {
      int status;
      const pid_t t = waitpid(-1, &status, __WALL);
      if (t < 0) _exit(0);
      if (WIFSTOPPED(status)) {
        const int sig = WSTOPSIG(status);
        ptrace(PTRACE_CONT, t, nullptr, reinterpret_cast<void*>(static_cast<long>(sig == SIGTRAP ? 0 : sig)));
      }
    }
  }
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);  // seized
  ::close(ready[0]);
  ::close(ready[1]);
  // Steps that trap while the watchdog looks (it does every 200 ms).
  bool noticed = false;
  for (int i = 0; i < 100 && !noticed; ++i) {
    EXPECT_NO_BLOCKING({
      for (int j = 0; j < 100; ++j) (void)getppid();
    });
    usleep(10000);
    for (const std::string& limit : unclog::watch_limitations()) {
      noticed = noticed || limit.find("a debugger or tracer (gdb, strace)") != std::string::npos;
    }
  }
  kill(tracer, SIGKILL);
  waitpid(tracer, nullptr, 0);
  EXPECT_TRUE(noticed);
  // Call mode goes on with the interposed functions.
  EXPECT_NONFATAL_FAILURE(EXPECT_NO_BLOCKING(usleep(1000)), "usleep");
}

// Files we write through a derived name cannot be redirected.
TEST(Files, FoldedStacksIgnoreAPlantedSymlink) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("unclog-hostile-" + std::to_string(getpid()));
  fs::create_directories(dir);
  const fs::path victim = dir / "victim", folded = dir / "out.folded";
  std::ofstream(victim) << "precious\n";
  fs::create_symlink(victim, dir / "out.folded.tmp");  // the name the old code wrote through
  std::string error;
  ASSERT_TRUE(unclog::set_folded_file(folded.string(), &error)) << error;
  EXPECT_NONFATAL_FAILURE(EXPECT_NO_BLOCKING(usleep(1000)), "usleep");
  unclog::set_folded_file("");
  std::ifstream v(victim);
  std::string content((std::istreambuf_iterator<char>(v)), {});
  EXPECT_EQ(content, "precious\n");
  std::ifstream out(folded);
  std::string stacks((std::istreambuf_iterator<char>(out)), {});
  EXPECT_THAT(stacks, HasSubstr("usleep"));
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    EXPECT_TRUE(name == "victim" || name == "out.folded" || name == "out.folded.tmp") << "left behind: " << name;
  }
  fs::remove_all(dir);
}

}  // namespace
