#include "proc_thread.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace unclog::watch {

void read_first_word(const char* path, char* out, std::size_t size) noexcept {
  out[0] = '\0';
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  char buf[256];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return;
  buf[n] = '\0';
  // wchan: "anon_pipe_read"; stack: "[<0>] anon_pipe_read+0x366/0x410"
  const char* p = std::strncmp(buf, "[<", 2) == 0 ? std::strchr(buf, ' ') : buf;
  if (!p) return;
  while (*p == ' ') ++p;
  std::size_t len = std::strcspn(p, "+ \n");
  len = std::min(len, size - 1);
  std::memcpy(out, p, len);
  out[len] = '\0';
}

namespace {

// A read or write on a socket with a receive or send timeout is never
// restarted after a handler, whatever SA_RESTART says (signal(7)). The fd
// is the process's, so it can be asked from here; a number reused in the
// meantime only costs a sample.
bool socket_call_with_timeout(long nr, int fd) noexcept {
  int opt;
  switch (nr) {
    case SYS_read: case SYS_readv: case SYS_recvfrom: case SYS_recvmsg: case SYS_recvmmsg:
      opt = SO_RCVTIMEO;
      break;
    case SYS_write: case SYS_writev: case SYS_sendto: case SYS_sendmsg: case SYS_sendmmsg:
      opt = SO_SNDTIMEO;
      break;
    default:
      return false;
  }
  timeval tv{};
  socklen_t len = sizeof tv;
  if (fd < 0 || ::getsockopt(fd, SOL_SOCKET, opt, &tv, &len) != 0) return false;  // not a socket
  return tv.tv_sec != 0 || tv.tv_usec != 0;
}

}  // namespace

bool in_unrestartable_wait(pid_t tid) noexcept {
  char path[64], line[256];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/syscall", static_cast<int>(tid));
  // "NR ARG1 ARG2 ... SP PC" (arguments in hex), or "running"
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const ssize_t n = ::read(fd, line, sizeof line - 1);
  ::close(fd);
  if (n <= 0) return false;
  line[n] = '\0';
  char* end = nullptr;
  const long nr = std::strtol(line, &end, 10);
  if (end == line) return false;
  switch (nr) {
    case SYS_poll: case SYS_ppoll: case SYS_select: case SYS_pselect6:
    case SYS_epoll_wait: case SYS_epoll_pwait: case 441 /* epoll_pwait2 */:
    case SYS_nanosleep: case SYS_clock_nanosleep: case SYS_pause: case SYS_rt_sigsuspend: case SYS_rt_sigtimedwait:
    case SYS_io_getevents: case SYS_io_pgetevents: case 426 /* io_uring_enter */:
    case SYS_semop: case SYS_semtimedop: case SYS_msgrcv: case SYS_msgsnd:
    case SYS_restart_syscall:  // one of these, resumed after a stop: a handler still ends it
      return true;
    default:
      return socket_call_with_timeout(nr, static_cast<int>(std::strtol(end, nullptr, 16)));
  }
}

ThreadStatus thread_status(pid_t tid, int sig) noexcept {
  ThreadStatus st;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/status", static_cast<int>(tid));
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return st;
  char buf[4096];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return st;
  buf[n] = '\0';
  if (const char* t = std::strstr(buf, "\nTracerPid:")) st.traced = std::atoi(t + 11) != 0;
  if (sig <= 0) return st;
  if (const char* b = std::strstr(buf, "\nSigBlk:")) st.blocks = (std::strtoull(b + 8, nullptr, 16) >> (sig - 1)) & 1;
  return st;
}

}  // namespace unclog::watch
