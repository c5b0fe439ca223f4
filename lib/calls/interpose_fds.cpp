// The calls that change an fd's mode or what its number refers to, and
// nothing else: each forgets what fd_modes remembers about the fds it
// changed, then returns what libc returned. Never judged as blocking.
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>

#include "fd_modes.hpp"
#include "real.hpp"

using namespace unclog::calls;

using fd_modes::forget_new;

namespace {

// For calls that make two fds.
int forget_pair(int r, const int fds[2]) {
  if (r == 0) {
    fd_modes::forget(fds[0]);
    fd_modes::forget(fds[1]);
  }
  return r;
}

}  // namespace

extern "C" {

// Forgotten after the call: another thread may judge the fd until it is closed.
int close(int fd) {
  const int r = UNCLOG_REAL(close)(fd);
  fd_modes::forget(fd);
  return r;
}

int close_range(unsigned first, unsigned last, int flags) {
  const int r = UNCLOG_REAL(close_range)(first, last, flags);
  if (!(flags & CLOSE_RANGE_CLOEXEC)) fd_modes::forget_from(first, last);
  return r;
}

int fclose(FILE* stream) {
  const int fd = stream ? fileno(stream) : -1;
  const int r = UNCLOG_REAL(fclose)(stream);
  fd_modes::forget(fd);
  return r;
}

int dup(int fd) { return forget_new(UNCLOG_REAL(dup)(fd)); }

int dup2(int fd, int to) {
  const int r = UNCLOG_REAL(dup2)(fd, to);
  fd_modes::forget(to);
  return r;
}

int dup3(int fd, int to, int flags) {
  const int r = UNCLOG_REAL(dup3)(fd, to, flags);
  fd_modes::forget(to);
  return r;
}

int ioctl(int fd, unsigned long request, ...) {
  va_list ap;
  va_start(ap, request);
  void* arg = va_arg(ap, void*);  // every ioctl argument fits a pointer
  va_end(ap);
  const int r = UNCLOG_REAL(ioctl)(fd, request, arg);
  if (request == FIONBIO) fd_modes::forget_modes();
  return r;
}

int socket(int domain, int type, int protocol) { return forget_new(UNCLOG_REAL(socket)(domain, type, protocol)); }

int socketpair(int domain, int type, int protocol, int fds[2]) {
  return forget_pair(UNCLOG_REAL(socketpair)(domain, type, protocol, fds), fds);
}

int pipe(int fds[2]) { return forget_pair(UNCLOG_REAL(pipe)(fds), fds); }

int pipe2(int fds[2], int flags) { return forget_pair(UNCLOG_REAL(pipe2)(fds, flags), fds); }

}  // extern "C"
