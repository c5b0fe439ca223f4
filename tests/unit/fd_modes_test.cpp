// Call mode remembers which fds are non-blocking (lib/calls/fd_modes.hpp),
// so that a call on one costs no fcntl. Every way an fd's mode or number
// can change must change the verdict: each test remembers an fd as
// non-blocking, changes it by one path, and checks that the next read on it
// in a watched step is judged blocking.
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>

#include "call_mode_fixture.hpp"
#include "calls/trap.hpp"
#include "unclog/unclog.hpp"

namespace {

// A system call made with the instruction itself, past libc and its
// interposers: what a program with its own syscall stubs (or Go, or a
// static binary's library) does.
long raw_syscall(long nr, long a, long b, long c) {
  long r;
  asm volatile("syscall" : "=a"(r) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return r;
}

struct SocketPair {
  int fd = -1, peer = -1;
  explicit SocketPair(int type_flags = SOCK_NONBLOCK) {
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | type_flags, 0, fds) == 0) {
      fd = fds[0];
      peer = fds[1];
    }
  }
  ~SocketPair() {
    ::close(fd);
    ::close(peer);
  }
};

class FdModes : public CallMode {
 protected:
  // Reads a byte already there, in a watched step: whether the read was
  // judged blocking.
  bool judged_blocking(int fd, int peer) {
    (void)take();
    EXPECT_EQ(::write(peer, "x", 1), 1);
    unclog::run([&] {
      char c;
      EXPECT_EQ(::read(fd, &c, 1), 1);
    });
    return !take().empty();
  }
  // Judged twice non-blocking: the second judgment comes from memory.
  void remember(int fd, int peer) {
    ASSERT_FALSE(judged_blocking(fd, peer));
    ASSERT_FALSE(judged_blocking(fd, peer));
  }
};

void set_blocking(int fd, bool on) {
  const int fl = fcntl(fd, F_GETFL);
  ASSERT_EQ(fcntl(fd, F_SETFL, on ? fl & ~O_NONBLOCK : fl | O_NONBLOCK), 0);
}

}  // namespace

TEST_F(FdModes, FcntlSetflBothWays) {
  SocketPair s;
  remember(s.fd, s.peer);
  set_blocking(s.fd, true);
  EXPECT_TRUE(judged_blocking(s.fd, s.peer));
  set_blocking(s.fd, false);
  EXPECT_FALSE(judged_blocking(s.fd, s.peer));
  EXPECT_FALSE(judged_blocking(s.fd, s.peer));
}

// This test is built with _FILE_OFFSET_BITS=64, where <fcntl.h> calls
// fcntl64; a program built without it calls fcntl, which must be ours too.
TEST_F(FdModes, FcntlUnderItsOtherName) {
  using Fcntl = int (*)(int, int, ...);
  for (const char* name : {"fcntl", "fcntl64"}) {
    const auto call = reinterpret_cast<Fcntl>(dlsym(RTLD_DEFAULT, name));
    ASSERT_NE(call, nullptr) << name;
    SocketPair s;
    remember(s.fd, s.peer);
    const int fl = call(s.fd, F_GETFL);
    ASSERT_EQ(call(s.fd, F_SETFL, fl & ~O_NONBLOCK), 0) << name;
    EXPECT_TRUE(judged_blocking(s.fd, s.peer)) << name;
  }
}

TEST_F(FdModes, IoctlFionbio) {
  SocketPair s;
  remember(s.fd, s.peer);
  int off = 0;
  ASSERT_EQ(ioctl(s.fd, FIONBIO, &off), 0);
  EXPECT_TRUE(judged_blocking(s.fd, s.peer));
  int on = 1;
  ASSERT_EQ(ioctl(s.fd, FIONBIO, &on), 0);
  EXPECT_FALSE(judged_blocking(s.fd, s.peer));
}

TEST_F(FdModes, Dup2AndDup3OntoARememberedNumber) {
  SocketPair s, blocking(0);
  remember(s.fd, s.peer);
  ASSERT_EQ(dup2(blocking.fd, s.fd), s.fd);
  EXPECT_TRUE(judged_blocking(s.fd, blocking.peer));
  set_blocking(s.fd, false);  // the description blocking.fd shares
  remember(s.fd, blocking.peer);
  set_blocking(blocking.fd, true);  // through the other number, same description
  EXPECT_TRUE(judged_blocking(s.fd, blocking.peer));
  SocketPair t, blocking2(0);
  remember(t.fd, t.peer);
  ASSERT_EQ(dup3(blocking2.fd, t.fd, O_CLOEXEC), t.fd);
  EXPECT_TRUE(judged_blocking(t.fd, blocking2.peer));
}

TEST_F(FdModes, DupAndFDupfdReturnAFreshVerdict) {
  SocketPair blocking(0), s;
  remember(s.fd, s.peer);
  const int number = s.fd;
  ASSERT_EQ(raw_syscall(SYS_close, number, 0, 0), 0);  // unseen: the number is free, still remembered
  s.fd = -1;
  const int d = dup(blocking.fd);
  ASSERT_EQ(d, number);
  EXPECT_TRUE(judged_blocking(d, blocking.peer));
  ::close(d);
  SocketPair t;  // takes the number again, non-blocking
  ASSERT_EQ(t.fd, number);
  remember(t.fd, t.peer);
  ASSERT_EQ(raw_syscall(SYS_close, number, 0, 0), 0);
  t.fd = -1;
  ASSERT_EQ(fcntl(blocking.fd, F_DUPFD, number), number);  // no mode changes anywhere
  EXPECT_TRUE(judged_blocking(number, blocking.peer));
  ::close(number);
}

TEST_F(FdModes, CloseThenTheNumberReused) {
  SocketPair s;
  remember(s.fd, s.peer);
  const int number = s.fd;
  ::close(s.fd);
  s.fd = -1;
  int p[2];
  ASSERT_EQ(pipe(p), 0);  // blocking; takes the lowest free number
  ASSERT_EQ(p[0], number);
  EXPECT_TRUE(judged_blocking(p[0], p[1]));
  ::close(p[0]);
  ::close(p[1]);
}

TEST_F(FdModes, FcloseThenTheNumberReused) {
  SocketPair s;
  remember(s.fd, s.peer);
  const int number = s.fd;
  FILE* f = fdopen(s.fd, "r");
  ASSERT_NE(f, nullptr);
  s.fd = -1;
  ASSERT_EQ(fclose(f), 0);
  SocketPair blocking(0);
  ASSERT_TRUE(blocking.fd == number || blocking.peer == number);
  const int other = blocking.fd == number ? blocking.peer : blocking.fd;
  EXPECT_TRUE(judged_blocking(number, other));
}

TEST_F(FdModes, UnseenCloseThenSocketReusesTheNumber) {
  SocketPair s;
  remember(s.fd, s.peer);
  const int number = s.fd;
  ASSERT_EQ(raw_syscall(SYS_close, number, 0, 0), 0);
  s.fd = -1;
  SocketPair blocking(0);  // socketpair forgets the numbers it returns
  ASSERT_TRUE(blocking.fd == number || blocking.peer == number);
  EXPECT_TRUE(judged_blocking(number, blocking.fd == number ? blocking.peer : blocking.fd));
}

TEST_F(FdModes, ReceivedOverScmRightsOntoARememberedNumber) {
  SocketPair s, channel(0), blocking(0);
  remember(s.fd, s.peer);
  const int number = s.fd;
  ASSERT_EQ(raw_syscall(SYS_close, number, 0, 0), 0);
  s.fd = -1;
  char byte = 'f';
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr out{};
  out.msg_iov = &iov;
  out.msg_iovlen = 1;
  out.msg_control = control;
  out.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&out);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &blocking.fd, sizeof(int));
  ASSERT_EQ(sendmsg(channel.peer, &out, 0), 1);
  msghdr in{};
  alignas(cmsghdr) char received[CMSG_SPACE(sizeof(int))] = {};
  in.msg_iov = &iov;
  in.msg_iovlen = 1;
  in.msg_control = received;
  in.msg_controllen = sizeof received;
  ASSERT_EQ(recvmsg(channel.fd, &in, 0), 1);
  int fd = -1;
  std::memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&in)), sizeof fd);
  ASSERT_EQ(fd, number);
  EXPECT_TRUE(judged_blocking(fd, blocking.peer));
  ::close(fd);
}

TEST_F(FdModes, RawSyscallThroughLibc) {
  SocketPair s;
  remember(s.fd, s.peer);
  const long fl = syscall(SYS_fcntl, s.fd, F_GETFL);
  ASSERT_EQ(syscall(SYS_fcntl, s.fd, F_SETFL, fl & ~O_NONBLOCK), 0);
  EXPECT_TRUE(judged_blocking(s.fd, s.peer));
}

TEST_F(FdModes, TrappedSyscallInAStep) {
  if (!unclog::calls::trap::arm_thread()) GTEST_SKIP() << "Syscall User Dispatch is unavailable here";
  SocketPair s;
  remember(s.fd, s.peer);
  const int fl = fcntl(s.fd, F_GETFL);
  unclog::run([&] { EXPECT_EQ(raw_syscall(SYS_fcntl, s.fd, F_SETFL, fl & ~O_NONBLOCK), 0); });
  (void)take();
  EXPECT_TRUE(judged_blocking(s.fd, s.peer));
}

TEST_F(FdModes, ChildProcessFlipsTheSharedDescription) {
  SocketPair s;
  remember(s.fd, s.peer);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const int fl = fcntl(s.fd, F_GETFL);
    _exit(fcntl(s.fd, F_SETFL, fl & ~O_NONBLOCK) == 0 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_TRUE(judged_blocking(s.fd, s.peer));
}

// A change nobody saw (here a raw fcntl outside any step, which nothing
// traps; likewise another process, or io_uring): memory is checked again
// every 64 uses.
TEST_F(FdModes, UnseenChangeIsCaughtWithin64Uses) {
  SocketPair s;
  remember(s.fd, s.peer);
  const int fl = fcntl(s.fd, F_GETFL);
  ASSERT_EQ(raw_syscall(SYS_fcntl, s.fd, F_SETFL, fl & ~O_NONBLOCK), 0);
  int uses = 1;
  while (!judged_blocking(s.fd, s.peer) && uses < 70) ++uses;
  EXPECT_LE(uses, 64);
}
