// Call mode: blocking calls are caught however short, at the caller's line;
// non-blocking ones, unwatched threads and allowed code stay quiet.
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "call_mode_fixture.hpp"
#include "direct_switches.hpp"
#include "unclog/unclog.hpp"

using namespace std::chrono_literals;
using ::testing::HasSubstr;

namespace {

using Calls = CallMode;

void allowed_helper(int fd) {
  char c;
  (void)!::read(fd, &c, 1);
}

}  // namespace

// Fibers that yield to each other switch directly, without the loop: a call
// made in the middle of such a run is reported once, for its own fiber.
TEST_F(Calls, CallBetweenDirectSwitchesIsReportedForItsFiber) {
  run_direct_switches([] { usleep(1); });
  auto rs = take();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].fiber, "b");
  EXPECT_THAT(rs[0].text(), HasSubstr("usleep"));
}

TEST_F(Calls, FastBlockingPipeReadIsCaughtAtItsLine) {
  Pipe p;
  ASSERT_EQ(::write(p.w, "x", 1), 1);  // data is ready: the read returns at once
  int line = 0;
  unclog::run([&] {
    char c;
    line = __LINE__; (void)!::read(p.r, &c, 1);
  });
  auto rs = take();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].kind, unclog::StallKind::call);
  EXPECT_EQ(rs[0].line, line) << rs[0].text();
  EXPECT_THAT(rs[0].call, HasSubstr("read(fd " + std::to_string(p.r) + ": pipe, blocking, 1 bytes)"));
  EXPECT_THAT(rs[0].text(), HasSubstr("call"));
  EXPECT_THAT(rs[0].text(), HasSubstr("read"));
}

TEST_F(Calls, NonBlockingFdIsQuiet) {
  Pipe p(O_NONBLOCK);
  ASSERT_EQ(::write(p.w, "x", 1), 1);
  unclog::run([&] {
    char c;
    EXPECT_EQ(::read(p.r, &c, 1), 1);
    EXPECT_EQ(::read(p.r, &c, 1), -1);
    EXPECT_EQ(errno, EAGAIN);
  });
  EXPECT_TRUE(take().empty());
}

TEST_F(Calls, GetaddrinfoIsCaught) {
  int line = 0;
  unclog::run([&] {
    addrinfo* res = nullptr;
    line = __LINE__; int rc = getaddrinfo("localhost", nullptr, nullptr, &res);
    if (rc == 0) freeaddrinfo(res);
  });
  auto rs = take();
  ASSERT_GE(rs.size(), 1u);
  EXPECT_THAT(rs[0].call, HasSubstr("getaddrinfo(\"localhost\")"));
  EXPECT_EQ(rs[0].line, line) << rs[0].text();
}

TEST_F(Calls, OneMicrosecondThreadSleepIsCaught) {
  unclog::run([] { std::this_thread::sleep_for(1us); });
  auto rs = take();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_THAT(rs[0].call, HasSubstr("sleep"));
  EXPECT_THAT(rs[0].file, HasSubstr("calls_test.cpp"));
}

TEST_F(Calls, UncontendedMutexIsQuietContendedIsCaught) {
  std::mutex m;
  unclog::run([&] {
    m.lock();
    m.unlock();
  });
  EXPECT_TRUE(take().empty());

  std::atomic<bool> held{false}, locking{false};
  std::thread holder([&] {
    std::lock_guard lk(m);
    held = true;
    // Held until the step is about to lock, then a short while more (call
    // mode catches a short wait anyway): a fixed 5 ms from the start once
    // ended before a loaded machine ran the step.
    while (!locking) std::this_thread::yield();
    std::this_thread::sleep_for(5ms);
  });
  while (!held) std::this_thread::yield();
  unclog::run([&] {
    locking = true;
    m.lock();
    m.unlock();
  });
  holder.join();
  auto rs = take();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_THAT(rs[0].call, HasSubstr("pthread_mutex_lock(contended)"));
}

TEST_F(Calls, AllowBlockingSilencesItsScopeOnly) {
  Pipe p;
  ASSERT_EQ(::write(p.w, "ab", 2), 2);
  int line = 0;
  unclog::run([&] {
    char c;
    {
      unclog::AllowBlocking allow("reading the fixture");
      (void)!::read(p.r, &c, 1);
    }
    unclog::yield();
    line = __LINE__; (void)!::read(p.r, &c, 1);
  });
  auto rs = take();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].line, line);
}

TEST_F(Calls, AllowListSilencesWhatItNamesOnly) {
  unclog::set_allowed_blocking_functions({"allowed_helper"});
  Pipe p;
  ASSERT_EQ(::write(p.w, "ab", 2), 2);
  int line = 0;
  unclog::run([&] {
    allowed_helper(p.r);
    unclog::yield();
    char c;
    line = __LINE__; (void)!::read(p.r, &c, 1);
  });
  auto rs = take();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].line, line);
}

TEST_F(Calls, UnwatchedThreadsAreNeverReported) {
  Pipe p;
  std::thread other([&] {
    for (int i = 0; i < 100; ++i) {
      (void)!::write(p.w, "x", 1);
      char c;
      (void)!::read(p.r, &c, 1);
      std::this_thread::sleep_for(10us);
    }
  });
  unclog::run([] { unclog::sleep_for(20ms); });
  other.join();
  // Outside any step on this thread too.
  std::this_thread::sleep_for(1ms);
  EXPECT_TRUE(take().empty());
}

TEST_F(Calls, OneReportPerStepCountsTheRest) {
  Pipe p;
  ASSERT_EQ(::write(p.w, "abc", 3), 3);
  unclog::run([&] {
    char c;
    for (int i = 0; i < 3; ++i) (void)!::read(p.r, &c, 1);
  });
  auto rs = take();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].calls, 3u);
  EXPECT_THAT(rs[0].text(), HasSubstr("and 2 more in this step"));
}

TEST_F(Calls, StdStreamsAndFilesAreAllowedUnlessAsked) {
  const std::string path = ::testing::TempDir() + "unclog_calls_file";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  // stderr as a pipe, as under meson (run by hand it may be a file).
  Pipe err_pipe;
  const int saved_stderr = dup(STDERR_FILENO);
  auto io = [&] {
    dup2(err_pipe.w, STDERR_FILENO);
    unclog::run([&] {
      (void)!::write(STDERR_FILENO, "log line\n", 9);
      (void)!::write(fd, "y", 1);
    });
    dup2(saved_stderr, STDERR_FILENO);
  };
  io();
  EXPECT_TRUE(take().empty());
  unclog::set_file_io_reports(true);
  io();
  auto rs = take();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_THAT(rs[0].call, HasSubstr("write(fd " + std::to_string(fd) + ": file"));
  unclog::set_file_io_reports(false);
  unclog::set_std_stream_reports(true);
  io();
  rs = take();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_THAT(rs[0].call, HasSubstr("write(fd 2"));
  ::close(fd);
  ::close(saved_stderr);
  ::unlink(path.c_str());
}

// What -D_FORTIFY_SOURCE makes of read/recv/poll on a buffer of known size
// (glibc declares these only in fortified builds). With system call traps
// off (valgrind, ThreadSanitizer, kernels before 5.11) the interposed
// function is the only thing that sees them.
extern "C" {
ssize_t __read_chk(int fd, void* buf, size_t n, size_t buflen);
ssize_t __recv_chk(int fd, void* buf, size_t n, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void* buf, size_t n, size_t buflen, int flags, sockaddr* addr, socklen_t* len);
int __poll_chk(pollfd* fds, nfds_t n, int timeout, size_t fdslen);
int __ppoll_chk(pollfd* fds, nfds_t n, const timespec* t, const sigset_t* mask, size_t fdslen);
}

TEST_F(Calls, FortifiedCallsAreJudgedAsThePlainOnes) {
  unclog::set_syscall_detection(false);
  Pipe p;
  Pipe quiet(O_NONBLOCK);
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  ASSERT_EQ(::write(p.w, "x", 1), 1);
  ASSERT_EQ(::send(sv[1], "yz", 2, 0), 2);
  char buf[8];
  pollfd pfd{p.r, POLLIN, 0};
  const timespec ts{0, 2000000};
  int line = 0;
  auto expect_one = [&](const std::string& call, const std::function<void()>& body) {
    unclog::run(body);
    auto rs = take();
    ASSERT_EQ(rs.size(), 1u) << call;
    EXPECT_EQ(rs[0].line, line) << rs[0].text();
    EXPECT_THAT(rs[0].call, HasSubstr(call));
  };
  expect_one("read(fd " + std::to_string(p.r) + ": pipe, blocking, 1 bytes)", [&] {
    line = __LINE__; EXPECT_EQ(__read_chk(p.r, buf, 1, sizeof buf), 1);
  });
  expect_one("recv(fd " + std::to_string(sv[0]) + ": socket", [&] {
    line = __LINE__; EXPECT_EQ(__recv_chk(sv[0], buf, 1, sizeof buf, 0), 1);
  });
  expect_one("recvfrom(fd " + std::to_string(sv[0]) + ": socket", [&] {
    line = __LINE__; EXPECT_EQ(__recvfrom_chk(sv[0], buf, 1, sizeof buf, 0, nullptr, nullptr), 1);
  });
  expect_one("poll(timeout 2 ms)", [&] {
    line = __LINE__; EXPECT_EQ(__poll_chk(&pfd, 1, 2, sizeof pfd), 0);
  });
  expect_one("ppoll(timeout 2 ms)", [&] {
    line = __LINE__; EXPECT_EQ(__ppoll_chk(&pfd, 1, &ts, nullptr, sizeof pfd), 0);
  });
  // Quiet where the plain calls are: a non-blocking fd, MSG_DONTWAIT, a poll that does not wait.
  unclog::run([&] {
    EXPECT_EQ(__read_chk(quiet.r, buf, 1, sizeof buf), -1);
    EXPECT_EQ(__recv_chk(sv[0], buf, 1, sizeof buf, MSG_DONTWAIT), -1);
    EXPECT_EQ(__poll_chk(&pfd, 1, 0, sizeof pfd), 0);
  });
  EXPECT_TRUE(take().empty());
  ::close(sv[0]);
  ::close(sv[1]);
}

TEST_F(Calls, InterposedCallsKeepLibcSemantics) {
  unclog::run([] {
    char c;
    errno = 0;
    EXPECT_EQ(::read(-1, &c, 1), -1);
    EXPECT_EQ(errno, EBADF);
    EXPECT_EQ(::fcntl(-1, F_GETFL), -1);
    EXPECT_EQ(errno, EBADF);
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    EXPECT_EQ(::fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
    EXPECT_TRUE(::fcntl(fds[0], F_GETFL) & O_NONBLOCK);
    ::close(fds[0]);
    ::close(fds[1]);
  });
  take();
}

TEST_F(Calls, BlockingCallThatAlsoOverranGivesOneReportWithTheDuration) {
  unclog::set_resolution(50ms);
  unclog::hub_blocking_detection(true, 50ms);
  unclog::run([] { usleep(150000); });
  auto rs = take();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].kind, unclog::StallKind::call);
  EXPECT_TRUE(rs[0].timed);
  // Not interrupted by a sampling signal (which would end the sleep about
  // 50 ms after the watchdog first saw the step): call mode had the stack.
  EXPECT_GE(rs[0].duration, 100ms) << rs[0].text();
  EXPECT_THAT(rs[0].text(), HasSubstr("blocked off-CPU"));
}

TEST_F(Calls, GreenIoIsNotABlockingCall) {
  Pipe p;
  unclog::run([&] {
    unclog::spawn([&] {
      unclog::sleep_for(2ms);
      unclog::io::write(p.w, "x", 1);
    }).detach();
    char c;
    EXPECT_EQ(unclog::io::read(p.r, &c, 1, 1s), 1);
  });
  EXPECT_TRUE(take().empty());
}
