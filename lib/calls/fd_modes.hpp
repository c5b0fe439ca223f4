// Which fds are known to be in non-blocking mode, so that judging a call on
// one (every fd of an event loop) costs a load instead of an fcntl.
//
// Only "non-blocking" is remembered: a stale entry can hide a blocking call
// (the time check still sees a long one) but never reports a call that
// could not block. What we see forgets: a mode change (fcntl(F_SETFL),
// ioctl(FIONBIO)) forgets every fd, since other numbers may share the file
// description; close, close_range, fclose, dup2 and dup3 forget the numbers
// they free or replace, and the calls we interpose that return an fd
// forget it (its number may have been freed unseen). Trapped system calls
// and those made through syscall() count too. Changes we cannot see (a raw
// system call outside a trapped step, io_uring, another process sharing the
// description, libc closing an fd internally) are caught by checking each
// entry again on every 64th use, and by forgetting every entry at fork.
//
// Thread-safety: lock-free, any thread. Async-signal-safe (the SIGSYS
// handler forgets).
#pragma once

namespace unclog::calls::fd_modes {

// True when `fd` was seen non-blocking and nothing since changed it.
bool known_nonblocking(int fd) noexcept;

// `fd` was just seen (F_GETFL) with O_NONBLOCK set.
void remember_nonblocking(int fd) noexcept;

void forget(int fd) noexcept;                              // its number was freed or replaced
void forget_from(unsigned first, unsigned last) noexcept;  // close_range
void forget_modes() noexcept;                              // some fd's mode changed: every fd

// For calls that return a new fd (its number may have been closed where we
// did not see it: libc's own closes, a raw system call): forgets it, and
// returns it.
inline int forget_new(int fd) noexcept {
  if (fd >= 0) forget(fd);
  return fd;
}

// A system call by number (made, or about to be): forgets what it changes.
// `result`: its return value (a new fd for dup and F_DUPFD), or -1.
void note_syscall(long nr, const long args[6], long result) noexcept;

}  // namespace unclog::calls::fd_modes
