// Calls that never block, made often inside loop steps: interposed only so
// that they are not trapped. In a watched step every system call that does
// not pass through one of our functions costs a SIGSYS round trip (trap.hpp,
// about 5 us with our handler on the AMD guest of docs/PERFORMANCE.md), and
// a libuv loop makes an epoll_ctl in the step before each wait whose
// watchers changed: 32 traps in a small test binary of 16 loops. Here each
// is libc's function, run with the thread's traps off (real_call).
//
// Only calls that neither wait nor create or change an fd's mode belong
// here: fd_modes learns those from the trap (classify.cpp, fd_modes.cpp).
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

#include "real.hpp"

using namespace unclog::calls;

extern "C" {

UNCLOG_INTERPOSE(int, epoll_ctl, (int epfd, int op, int fd, struct epoll_event* event), (epfd, op, fd, event)) {
  return real_call(UNCLOG_REAL(epoll_ctl), epfd, op, fd, event);
}

UNCLOG_INTERPOSE(int, timerfd_settime,
                 (int fd, int flags, const struct itimerspec* value, struct itimerspec* old), (fd, flags, value, old)) {
  return real_call(UNCLOG_REAL(timerfd_settime), fd, flags, value, old);
}

UNCLOG_INTERPOSE(int, setsockopt, (int fd, int level, int name, const void* value, socklen_t len),
                 (fd, level, name, value, len)) {
  return real_call(UNCLOG_REAL(setsockopt), fd, level, name, value, len);
}

UNCLOG_INTERPOSE(int, getsockopt, (int fd, int level, int name, void* value, socklen_t* len),
                 (fd, level, name, value, len)) {
  return real_call(UNCLOG_REAL(getsockopt), fd, level, name, value, len);
}

UNCLOG_INTERPOSE(int, getsockname, (int fd, struct sockaddr* addr, socklen_t* len), (fd, addr, len)) {
  return real_call(UNCLOG_REAL(getsockname), fd, addr, len);
}

UNCLOG_INTERPOSE(int, getpeername, (int fd, struct sockaddr* addr, socklen_t* len), (fd, addr, len)) {
  return real_call(UNCLOG_REAL(getpeername), fd, addr, len);
}

UNCLOG_INTERPOSE(int, shutdown, (int fd, int how), (fd, how)) {
  return real_call(UNCLOG_REAL(shutdown), fd, how);
}

}  // extern "C"
