#include "proc_thread.hpp"

#include <fcntl.h>
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

bool in_unrestartable_wait(pid_t tid) noexcept {
  char path[64], word[32];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/syscall", static_cast<int>(tid));
  read_first_word(path, word, sizeof word);  // a number, or "running"
  char* end = nullptr;
  const long nr = std::strtol(word, &end, 10);
  if (end == word) return false;
  switch (nr) {
    case SYS_poll: case SYS_ppoll: case SYS_select: case SYS_pselect6:
    case SYS_epoll_wait: case SYS_epoll_pwait: case 441 /* epoll_pwait2 */:
    case SYS_nanosleep: case SYS_clock_nanosleep: case SYS_pause: case SYS_rt_sigsuspend: case SYS_rt_sigtimedwait:
    case SYS_io_getevents: case SYS_io_pgetevents: case 426 /* io_uring_enter */:
    case SYS_semop: case SYS_semtimedop: case SYS_msgrcv: case SYS_msgsnd:
    case SYS_restart_syscall:  // one of these, resumed after a stop: a handler still ends it
      return true;
    default:
      return false;
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
