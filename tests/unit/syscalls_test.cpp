// Call mode at the level of system calls (Syscall User Dispatch): blocking
// hidden inside libc, raw system calls and libraries' own are caught at the
// user's line, named at the level the user wrote; quiet calls stay quiet;
// the program's behaviour is unchanged (results, errno, EINTR, fork,
// threads, signals, a seccomp SIGSYS that is not ours).
#include <fcntl.h>
#include <grp.h>
#include <liburing.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <mqueue.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>

#include "call_mode_fixture.hpp"
#include "calls/trap.hpp"
#include "watch/symbolize.hpp"
#include "unclog/unclog.hpp"

using namespace std::chrono_literals;
using ::testing::HasSubstr;

namespace {

class Syscalls : public CallMode {
 protected:
  void SetUp() override {
    CallMode::SetUp();
    if (!unclog::calls::trap::arm_thread()) GTEST_SKIP() << "Syscall User Dispatch is unavailable here";
  }
  // The one report of a run: a call whose description has `what`, at `line`.
  void expect_call(const std::string& what, int line) {
    auto rs = take();
    ASSERT_EQ(rs.size(), 1u) << (rs.empty() ? "no report" : rs[0].text() + "\n" + rs[1].text());
    EXPECT_EQ(rs[0].kind, unclog::StallKind::call);
    EXPECT_THAT(rs[0].call, HasSubstr(what)) << rs[0].text();
    EXPECT_EQ(rs[0].line, line) << rs[0].text();
    EXPECT_THAT(rs[0].file, HasSubstr("syscalls_test.cpp"));
  }
  void expect_quiet() {
    auto rs = take();
    EXPECT_TRUE(rs.empty()) << rs[0].text();
  }
};

class CallModeOnly : public CallMode {};

// A function to take code addresses from.
[[gnu::noinline]] void symbolize_new_addresses_from() { asm volatile(""); }

struct SocketPair {
  int a = -1, b = -1;
  explicit SocketPair(int type = SOCK_STREAM) {
    int fds[2];
    if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, fds) == 0) {
      a = fds[0];
      b = fds[1];
    }
  }
  ~SocketPair() {
    ::close(a);
    ::close(b);
  }
};

std::string fd_text(int fd) { return "fd " + std::to_string(fd) + ": "; }

}  // namespace

// --- stdio and iostreams: libc's own read and write ---

TEST_F(Syscalls, FgetsOnAPipeIsAReadInFgets) {
  Pipe p;
  ASSERT_EQ(::write(p.w, "line\n", 5), 5);
  FILE* f = fdopen(dup(p.r), "r");
  int line = 0;
  char buf[16] = {};
  unclog::run([&] {
    line = __LINE__; EXPECT_NE(fgets(buf, sizeof buf, f), nullptr);
  });
  fclose(f);
  EXPECT_STREQ(buf, "line\n");
  expect_call("pipe, blocking, 4096 bytes) in fgets", line);
}

TEST_F(Syscalls, FreadFromPopenIsCaught) {
  FILE* f = popen("echo hi", "r");  // not in a step: popen itself is reported by name
  ASSERT_NE(f, nullptr);
  char buf[8] = {};
  int line = 0;
  unclog::run([&] {
    line = __LINE__; EXPECT_EQ(fread(buf, 1, 3, f), 3u);
  });
  pclose(f);
  expect_call("read(fd", line);
}

TEST_F(Syscalls, FprintfAndFflushToASocketIsAWriteInFflush) {
  SocketPair s;
  const int fd = dup(s.a);
  FILE* f = fdopen(fd, "w");
  int line = 0;
  unclog::run([&] {
    fprintf(f, "hello %d\n", 42);
    line = __LINE__; fflush(f);
  });
  fclose(f);
  char buf[32] = {};
  EXPECT_EQ(::read(s.b, buf, sizeof buf), 9);
  expect_call("write(" + fd_text(fd) + "socket, blocking, 9 bytes) in fflush", line);
}

TEST_F(Syscalls, GetlineOnStdinPipeIsCaughtInStdGetline) {
  Pipe p;
  ASSERT_EQ(::write(p.w, "typed\n", 6), 6);
  const int saved = dup(STDIN_FILENO);
  dup2(p.r, STDIN_FILENO);
  std::cin.clear();
  std::string got;
  int line = 0;
  unclog::run([&] {
    line = __LINE__; std::getline(std::cin, got);
  });
  dup2(saved, STDIN_FILENO);
  ::close(saved);
  std::cin.clear();
  EXPECT_EQ(got, "typed");
  expect_call("read(fd 0: pipe, blocking", line);
}

// --- locks inside libc ---

TEST_F(Syscalls, ContendedSharedMutexIsAFutexWaitInLockShared) {
  std::shared_mutex m;
  std::atomic<bool> held{false}, locking{false};
  // Holds until the step is about to lock (however slow the start: ASan, a
  // loaded machine), then a little longer: the lock is contended for sure.
  std::thread holder([&] {
    std::unique_lock lk(m);
    held = true;
    while (!locking) std::this_thread::yield();
    std::this_thread::sleep_for(5ms);
  });
  while (!held) std::this_thread::yield();
  int line = 0;
  unclog::run([&] {
    locking = true;
    line = __LINE__; m.lock_shared();
    m.unlock_shared();
  });
  holder.join();
  expect_call("futex(FUTEX_WAIT", line);
  // Uncontended: quiet.
  unclog::run([&] {
    m.lock_shared();
    m.unlock_shared();
    EXPECT_TRUE(m.try_lock());
    m.unlock();
  });
  expect_quiet();
}

TEST_F(Syscalls, ContendedBarrierWaitIsCaught) {
  pthread_barrier_t b;
  pthread_barrier_init(&b, nullptr, 2);
  std::atomic<bool> waiting{false};
  std::thread other([&] {  // arrives second, a little after the step
    while (!waiting) std::this_thread::yield();
    std::this_thread::sleep_for(5ms);
    pthread_barrier_wait(&b);
  });
  int line = 0;
  unclog::run([&] {
    waiting = true;
    line = __LINE__; pthread_barrier_wait(&b);
  });
  other.join();
  pthread_barrier_destroy(&b);
  expect_call("futex(", line);
}

TEST_F(Syscalls, AtomicWaitThatNeedNotWaitIsQuiet) {
  std::atomic<int> v{1};
  unclog::run([&] {
    v.wait(0);  // the value differs: returns without a system call
    v.notify_all();
  });
  expect_quiet();
}

// Calls that never block and that loops make inside their steps (libuv an
// epoll_ctl before each wait whose watchers changed) are interposed so as
// not to cost a SIGSYS round trip each (interpose_untrapped.cpp); a raw
// system call still traps, which shows the count would see one.
TEST_F(Syscalls, CallsLoopsMakeInStepsAreNotTrapped) {
  SocketPair s;
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  const int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
  ASSERT_GE(ep, 0);
  ASSERT_GE(tfd, 0);
  std::uint64_t interposed = ~0ull, raw = ~0ull;
  unclog::run([&] {
    const std::uint64_t before = unclog::calls::trap::trapped_calls_on_this_thread();
    epoll_event ev{};
    ev.events = EPOLLIN;
    EXPECT_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, s.a, &ev), 0);
    EXPECT_EQ(epoll_ctl(ep, EPOLL_CTL_DEL, s.a, nullptr), 0);
    itimerspec ts{};
    ts.it_value.tv_sec = 60;
    EXPECT_EQ(timerfd_settime(tfd, 0, &ts, nullptr), 0);
    int one = 1;
    socklen_t len = sizeof one;
    EXPECT_EQ(setsockopt(s.a, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one), 0);
    EXPECT_EQ(getsockopt(s.a, SOL_SOCKET, SO_KEEPALIVE, &one, &len), 0);
    EXPECT_EQ(one, 1);
    sockaddr_storage addr{};
    len = sizeof addr;
    EXPECT_EQ(getsockname(s.a, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    len = sizeof addr;
    EXPECT_EQ(getpeername(s.a, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    EXPECT_EQ(shutdown(s.b, SHUT_WR), 0);
    interposed = unclog::calls::trap::trapped_calls_on_this_thread() - before;
    (void)syscall(SYS_getppid);
    raw = unclog::calls::trap::trapped_calls_on_this_thread() - before - interposed;
  });
  EXPECT_EQ(interposed, 0u);
  EXPECT_EQ(raw, 1u);
  expect_quiet();
  close(tfd);
  close(ep);
}

// --- system calls libc does not interpose for us ---

TEST_F(Syscalls, RecvmmsgAndSendmmsgOnBlockingSockets) {
  SocketPair s(SOCK_DGRAM);
  char out[4] = "abc", in[4] = {};
  iovec oiov{out, 3}, iiov{in, 3};
  mmsghdr om{}, im{};
  om.msg_hdr.msg_iov = &oiov;
  om.msg_hdr.msg_iovlen = 1;
  im.msg_hdr.msg_iov = &iiov;
  im.msg_hdr.msg_iovlen = 1;
  int line = 0;
  unclog::run([&] {
    line = __LINE__; EXPECT_EQ(sendmmsg(s.a, &om, 1, 0), 1);
  });
  expect_call("sendmmsg(" + fd_text(s.a) + "socket, blocking, 3 bytes)", line);
  unclog::run([&] {
    line = __LINE__; EXPECT_EQ(recvmmsg(s.b, &im, 1, 0, nullptr), 1);
  });
  expect_call("recvmmsg(" + fd_text(s.b) + "socket, blocking, 3 bytes)", line);
  EXPECT_STREQ(in, "abc");
  unclog::run([&] { EXPECT_EQ(recvmmsg(s.b, &im, 1, MSG_DONTWAIT, nullptr), -1); });
  expect_quiet();
}

TEST_F(Syscalls, SendfileAndSpliceThroughPipes) {
  const std::string path = ::testing::TempDir() + "unclog_syscalls_sendfile";
  int file = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_EQ(::write(file, "data", 4), 4);
  Pipe p, q;
  int line = 0;
  unclog::run([&] {
    off_t off = 0;
    line = __LINE__; EXPECT_EQ(sendfile(p.w, file, &off, 4), 4);
  });
  expect_call("sendfile(" + fd_text(p.w) + "pipe, blocking", line);
  unclog::run([&] {
    line = __LINE__; EXPECT_EQ(splice(p.r, nullptr, q.w, nullptr, 4, 0), 4);
  });
  expect_call("splice(" + fd_text(p.r) + "pipe, blocking", line);
  unclog::run([&] { EXPECT_EQ(splice(q.r, nullptr, p.w, nullptr, 4, SPLICE_F_NONBLOCK), 4); });
  expect_quiet();
  ::close(file);
  ::unlink(path.c_str());
}

TEST_F(Syscalls, Wait4AndWaitidWithoutWnohang) {
  pid_t child = fork();
  if (child == 0) _exit(7);
  int status = 0, line = 0;
  unclog::run([&] {
    line = __LINE__; EXPECT_EQ(wait4(child, &status, 0, nullptr), child);
  });
  EXPECT_EQ(WEXITSTATUS(status), 7);
  expect_call("wait4(without WNOHANG)", line);
  child = fork();
  if (child == 0) _exit(8);
  siginfo_t info{};
  unclog::run([&] {
    line = __LINE__; EXPECT_EQ(waitid(P_PID, child, &info, WEXITED), 0);
  });
  EXPECT_EQ(info.si_status, 8);
  expect_call("waitid(without WNOHANG)", line);
  unclog::run([&] { EXPECT_EQ(waitid(P_ALL, 0, &info, WEXITED | WNOHANG), -1); });
  expect_quiet();
}

TEST_F(Syscalls, SigtimedwaitWithAPendingSignal) {
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &set, &old);
  raise(SIGUSR2);  // pending: the wait returns at once
  int line = 0;
  unclog::run([&] {
    line = __LINE__; EXPECT_EQ(sigtimedwait(&set, nullptr, nullptr), SIGUSR2);
  });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  expect_call("rt_sigtimedwait(no timeout)", line);
}

TEST_F(Syscalls, EpollPwait2WithATimeout) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  Pipe p;
  epoll_event ev{};
  ev.events = EPOLLIN;
  epoll_ctl(ep, EPOLL_CTL_ADD, p.r, &ev);
  ASSERT_EQ(::write(p.w, "x", 1), 1);
  timespec ts{0, 5000000};
  int line = 0;
  unclog::run([&] {
    epoll_event got;
    line = __LINE__; EXPECT_EQ(syscall(SYS_epoll_pwait2, ep, &got, 1, &ts, nullptr, 8), 1);
  });
  expect_call("epoll_pwait2(timeout 5 ms)", line);
  unclog::run([&] {
    epoll_event got;
    timespec zero{0, 0};
    EXPECT_EQ(syscall(SYS_epoll_pwait2, ep, &got, 1, &zero, nullptr, 8), 1);
  });
  expect_quiet();
  ::close(ep);
}

TEST_F(Syscalls, MsgrcvAndMqReceiveWithAMessageReady) {
  const int q = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
  ASSERT_GE(q, 0);
  struct {
    long type;
    char text[4];
  } msg{1, "hey"};
  ASSERT_EQ(msgsnd(q, &msg, sizeof msg.text, IPC_NOWAIT), 0);
  int line = 0;
  unclog::run([&] {
    line = __LINE__; EXPECT_EQ(msgrcv(q, &msg, sizeof msg.text, 0, 0), 4);
  });
  msgctl(q, IPC_RMID, nullptr);
  expect_call("msgrcv(without IPC_NOWAIT)", line);

  const std::string name = "/unclog_test_" + std::to_string(getpid());
  mq_attr attr{};
  attr.mq_maxmsg = 1;
  attr.mq_msgsize = 8;
  mqd_t mq = mq_open(name.c_str(), O_RDWR | O_CREAT, 0600, &attr);
  if (mq == static_cast<mqd_t>(-1)) GTEST_SKIP() << "no POSIX message queues here";
  ASSERT_EQ(mq_send(mq, "x", 1, 0), 0);
  char buf[8];
  unclog::run([&] {
    line = __LINE__; EXPECT_EQ(mq_receive(mq, buf, sizeof buf, nullptr), 1);
  });
  mq_close(mq);
  mq_unlink(name.c_str());
  expect_call("mq_timedreceive(blocking queue)", line);
}

TEST_F(Syscalls, RawSyscallReadAndNanosleep) {
  Pipe p;
  ASSERT_EQ(::write(p.w, "x", 1), 1);
  int line = 0;
  unclog::run([&] {
    char c;
    line = __LINE__; EXPECT_EQ(syscall(SYS_read, p.r, &c, 1), 1);
  });
  expect_call("read(" + fd_text(p.r) + "pipe, blocking, 1 bytes) in syscall", line);
  unclog::run([&] {
    timespec ts{0, 1000};
    line = __LINE__; syscall(SYS_nanosleep, &ts, nullptr);
  });
  expect_call("nanosleep(0.001 ms)", line);
}

TEST_F(Syscalls, IoUringWaitOnTheUsersOwnRing) {
  io_uring ring;
  if (io_uring_queue_init(4, &ring, 0) != 0) GTEST_SKIP() << "io_uring is refused here";
  int line = 0;
  unclog::run([&] {
    io_uring_prep_nop(io_uring_get_sqe(&ring));
    line = __LINE__; EXPECT_EQ(io_uring_submit_and_wait(&ring, 1), 1);
  });
  io_uring_queue_exit(&ring);
  expect_call("io_uring_enter(fd", line);
}

TEST_F(Syscalls, OpeningAFifoWithoutNonblock) {
  const std::string path = ::testing::TempDir() + "unclog_syscalls_fifo_" + std::to_string(getpid());
  ASSERT_EQ(mkfifo(path.c_str(), 0600), 0);
  const int writer = ::open(path.c_str(), O_RDWR | O_CLOEXEC);  // so the open below returns at once
  int line = 0, fd = -1;
  unclog::run([&] {
    line = __LINE__; fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  });
  expect_call("FIFO, blocking", line);
  ::close(fd);
  unclog::run([&] { fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC); });
  expect_quiet();
  ::close(fd);
  ::close(writer);
  ::unlink(path.c_str());
}

// --- name service lookups (interposed, named like the resolver) ---

TEST_F(Syscalls, NameServiceLookupsAreNamed) {
  int line = 0;
  unclog::run([&] {
    line = __LINE__; EXPECT_NE(getpwnam("root"), nullptr);
  });
  expect_call("getpwnam(\"root\")", line);
  unclog::run([&] {
    line = __LINE__; EXPECT_NE(getgrgid(0), nullptr);
  });
  expect_call("getgrgid(0)", line);
  unclog::run([&] {
    line = __LINE__; getservbyname("http", "tcp");
  });
  expect_call("getservbyname(\"http\")", line);
}

// --- quiet calls ---

TEST_F(Syscalls, QuietCallsStayQuiet) {
  Pipe nb(O_NONBLOCK);
  const std::string path = ::testing::TempDir() + "unclog_syscalls_quiet";
  FILE* file = fopen(path.c_str(), "w+");
  ASSERT_NE(file, nullptr);
  unclog::run([&] {
    char c;
    EXPECT_EQ(::read(nb.r, &c, 1), -1);
    EXPECT_EQ(errno, EAGAIN);
    EXPECT_GT(getpid(), 0);
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    syscall(SYS_getppid);
    fprintf(file, "regular file %d\n", 1);
    fflush(file);
    fprintf(stderr, "%s", "");
    std::mutex m;
    EXPECT_TRUE(m.try_lock());
    m.unlock();
  });
  fclose(file);
  ::unlink(path.c_str());
  expect_quiet();
}

TEST_F(Syscalls, TurnedOffOnlyInterposedCallsAreSeen) {
  unclog::set_syscall_detection(false);
  Pipe p;
  ASSERT_EQ(::write(p.w, "line\n", 5), 5);
  FILE* f = fdopen(dup(p.r), "r");
  char buf[16];
  unclog::run([&] { EXPECT_NE(fgets(buf, sizeof buf, f), nullptr); });
  fclose(f);
  expect_quiet();
}

// --- nothing lost, nothing broken ---

TEST_F(Syscalls, ResultsAndErrnoAreExact) {
  Pipe p;
  ASSERT_EQ(::write(p.w, "abc", 3), 3);
  unclog::run([&] {
    char buf[16];
    EXPECT_EQ(syscall(SYS_read, p.r, buf, sizeof buf), 3);  // a partial read
    errno = 0;
    EXPECT_EQ(syscall(SYS_read, -1, buf, 1), -1);
    EXPECT_EQ(errno, EBADF);
    EXPECT_EQ(syscall(SYS_close, 12345), -1);
    EXPECT_EQ(errno, EBADF);
  });
  take();
}

namespace {
std::atomic<int> g_alarms{0};
void on_alarm(int) {
  g_alarms++;
  (void)!::write(STDERR_FILENO, "", 0);  // a system call inside a handler, while trapping
}
}  // namespace

TEST_F(Syscalls, SignalsReachTheProgramsHandlersAndEintrIsKept) {
  g_alarms = 0;
  struct sigaction sa {}, old{};
  sa.sa_handler = on_alarm;
  sigfillset(&sa.sa_mask);  // SIGSYS included: we must keep it deliverable
  sa.sa_flags = 0;          // no SA_RESTART: the blocked read ends with EINTR
  ASSERT_EQ(sigaction(SIGALRM, &sa, &old), 0);
  Pipe p;
  const pthread_t self = pthread_self();
  // Pokes until the read has returned: a single poke could land before the
  // read began (a loaded machine, ASan) and leave it blocked for good.
  std::atomic<bool> read_returned{false};
  std::thread poker([&] {
    while (!read_returned) {
      std::this_thread::sleep_for(20ms);
      if (!read_returned) pthread_kill(self, SIGALRM);
    }
  });
  unclog::run([&] {
    char c;
    unclog::AllowBlocking allow("the read waits for the signal on purpose");
    errno = 0;
    const long n = syscall(SYS_read, p.r, &c, 1);  // raw: through the trap even here
    const int err = errno;
    read_returned = true;
    EXPECT_EQ(n, -1);
    EXPECT_EQ(err, EINTR);
  });
  poker.join();
  EXPECT_GE(g_alarms.load(), 1);
  // A signal landing while the step's code runs (its handler's return goes
  // through glibc's restorer, which is trapped and emulated).
  const int before = g_alarms.load();
  unclog::run([&] {
    raise(SIGALRM);
    EXPECT_EQ(getppid(), getppid());
  });
  EXPECT_EQ(g_alarms.load(), before + 1);
  sigaction(SIGALRM, &old, nullptr);
  expect_quiet();
}

TEST_F(Syscalls, SigprocmaskInAStepKeepsSigsysDeliverable) {
  unclog::run([&] {
    sigset_t all, old, now;
    sigfillset(&all);
    ASSERT_EQ(syscall(SYS_rt_sigprocmask, SIG_BLOCK, &all, &old, 8), 0);  // raw: emulated by the trap
    ASSERT_EQ(syscall(SYS_rt_sigprocmask, SIG_SETMASK, nullptr, &now, 8), 0);
    EXPECT_EQ(sigismember(&now, SIGUSR1), 1);
    EXPECT_EQ(sigismember(&now, SIGSYS), 0) << "SIGSYS stays deliverable, and reads back so";
    EXPECT_EQ(getppid(), getppid()) << "and trapped calls still work";
    ASSERT_EQ(syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, nullptr, 8), 0);
  });
  sigset_t now;
  pthread_sigmask(SIG_SETMASK, nullptr, &now);
  EXPECT_EQ(sigismember(&now, SIGUSR1), 0);
  expect_quiet();
}

TEST_F(Syscalls, ForkThreadsSpawnAndExecWorkInAStep) {
  unclog::run([&] {
    pid_t child = fork();
    if (child == 0) _exit(getppid() > 0 ? 5 : 6);  // the child is not trapped
    int status = 0;
    {
      unclog::AllowBlocking allow("reaping");
      waitpid(child, &status, 0);
    }
    EXPECT_EQ(WEXITSTATUS(status), 5);
    std::atomic<int> ran{0};
    std::thread t([&] { ran = getppid() > 0 ? 1 : 2; });
    {
      unclog::AllowBlocking allow("joining");
      t.join();
    }
    EXPECT_EQ(ran.load(), 1);
    unclog::AllowBlocking allow("system and popen wait for their child");
    EXPECT_EQ(system("exit 3"), 3 << 8);
    FILE* f = popen("echo out", "r");
    char buf[8] = {};
    EXPECT_NE(fgets(buf, sizeof buf, f), nullptr);
    EXPECT_STREQ(buf, "out\n");
    pclose(f);
  });
  expect_quiet();
}

// fork() waits for our own locks (the symbolizer's, the watchdog's) in
// their atfork handlers: that wait is ours, never the program's blocking
// call, however contended. Another thread keeps the symbolizer's lock busy
// with lookups of new addresses while a step forks (CI's run saw one of
// the two contended once, at a step's first fork).
TEST_F(CallModeOnly, ForkWaitingForOurLocksIsNotTheProgramsCall) {
  std::atomic<bool> stop{false};
  std::thread symbolizing([&] {
    const auto base = reinterpret_cast<std::uintptr_t>(&symbolize_new_addresses_from);
    for (std::uintptr_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
      const std::uintptr_t pc = base + (i % 4096) * 4;
      (void)unclog::watch::symbolize(&pc, 1);
    }
  });
  unclog::run([&] {
    for (int i = 0; i < 10; ++i) {
      const pid_t child = fork();
      if (child == 0) _exit(0);
      unclog::AllowBlocking allow("reaping");
      int status = 0;
      waitpid(child, &status, 0);
    }
  });
  stop = true;
  symbolizing.join();
  auto rs = take();
  EXPECT_TRUE(rs.empty()) << rs[0].text();
}

TEST_F(Syscalls, ExecveFromATrappingStepRunsTheProgram) {
  // In a child (exec replaces the process): a fresh thread arms its traps
  // when its hub starts, and execs from inside a step.
  const pid_t child = fork();
  if (child == 0) {
    std::thread t([] {
      unclog::run([] {
        if (!unclog::calls::trap::thread_armed()) _exit(20);
        execl("/bin/sh", "sh", "-c", "exit 7", static_cast<char*>(nullptr));
        _exit(21);
      });
    });
    t.join();
    _exit(22);
  }
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << "child died of signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 7) << "20: not armed, 21: exec failed, 22: exec returned";
}

TEST_F(Syscalls, ASeccompSigsysGoesToTheProgramsHandler) {
  // In a child: a seccomp filter traps getppid (SECCOMP_RET_TRAP, SIGSYS
  // with si_code SYS_SECCOMP), and the program's own SIGSYS handler,
  // installed after ours, must get it.
  pid_t child = fork();
  if (child == 0) {
    static std::atomic<int> seen{0};
    struct sigaction sa {};
    sa.sa_sigaction = [](int, siginfo_t* si, void* ctx) {
      if (si->si_code == 1 /* SYS_SECCOMP */) {
        seen++;
        static_cast<ucontext_t*>(ctx)->uc_mcontext.gregs[REG_RAX] = 4242;
      }
    };
    sa.sa_flags = SA_SIGINFO;
    if (sigaction(SIGSYS, &sa, nullptr) != 0) _exit(10);
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog prog{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) _exit(11);
    long got = 0;
    unclog::run([&] { got = syscall(SYS_getppid); });
    _exit(got == 4242 && seen == 1 ? 0 : 12);
  }
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << "child died of signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  take();
}

TEST_F(Syscalls, SamplingSignalAndTrapsNest) {
  // Time mode too: a step that spins past the resolution is sampled while
  // its system calls are trapped.
  unclog::hub_blocking_detection(true, 20ms);
  unclog::run([&] {
    const auto end = std::chrono::steady_clock::now() + 80ms;
    while (std::chrono::steady_clock::now() < end) (void)getppid();
  });
  auto rs = take();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].kind, unclog::StallKind::cpu) << rs[0].text();
  EXPECT_THAT(rs[0].file, HasSubstr("syscalls_test.cpp")) << rs[0].text();
}

TEST_F(Syscalls, SavedMasksNeverCarrySigsysIntoTheKernel) {
  // A mask saved around a block-all (as thread creation does) and restored
  // later, inside and outside steps, leaves SIGSYS deliverable.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  unclog::run([&] {
    std::thread t([] {});
    unclog::AllowBlocking allow("joining");
    t.join();
  });
  std::uint64_t kernel_mask = 0;
  ASSERT_EQ(syscall(SYS_rt_sigprocmask, SIG_SETMASK, nullptr, &kernel_mask, 8), 0);
  EXPECT_EQ(kernel_mask & (1ull << (SIGSYS - 1)), 0u);
  unclog::run([&] { EXPECT_EQ(getppid(), getppid()); });  // would die of SIGSYS otherwise
  expect_quiet();
}
