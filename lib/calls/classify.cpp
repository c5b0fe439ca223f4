// Which calls can block. One table for both routes into call mode: an
// interposed libc function and a trapped system call are judged alike.
#include "classify.hpp"
#include "fd_modes.hpp"
#include "trap.hpp"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <mqueue.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <linux/io_uring.h>
#include <linux/openat2.h>

#include <climits>
#include <cstdint>

#include "watch/call_report.hpp"
#include "watch/config.hpp"
#include "watch/sampler.hpp"

#ifndef SYS_epoll_pwait2
#define SYS_epoll_pwait2 441
#endif
#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef FUTEX_LOCK_PI2
#define FUTEX_LOCK_PI2 13
#endif

namespace unclog::calls {

__attribute__((tls_model("initial-exec"))) constinit thread_local int t_internal = 0;

void record(watch::StepSlot* s, bool trapped, const char* fmt, ...) noexcept {
  trap::SignalsHeldUnderTsan held;
  const int saved = errno;
  char what[watch::kCallText];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  watch::record_call(*s, what, trapped);
  errno = saved;
}

namespace {

// What kind of fd this is, and whether a call on it can block.
struct FdInfo {
  const char* kind;
  bool blocking_mode;  // O_NONBLOCK is off
  bool can_block;      // a call in blocking mode may wait
  bool file_io;        // regular file, directory, block device
};

FdInfo describe_fd(int fd) {
  FdInfo info{"fd", true, false, false};
  trap::SignalsHeldUnderTsan held;
  // The flags first: a non-blocking fd (every fd of an event loop) needs no
  // fstat, and once seen, no system call at all (fd_modes.hpp).
  if (fd_modes::known_nonblocking(fd)) {
    info.blocking_mode = false;
    return info;
  }
  const int fl = fcntl(fd, F_GETFL);
  if (fl < 0) return info;  // a bad fd fails at once
  info.blocking_mode = !(fl & O_NONBLOCK);
  if (!info.blocking_mode) {
    fd_modes::remember_nonblocking(fd);
    return info;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) return info;
  if (S_ISSOCK(st.st_mode)) {
    info.kind = "socket";
    info.can_block = true;
  } else if (S_ISFIFO(st.st_mode)) {
    info.kind = "pipe";
    info.can_block = true;
  } else if (S_ISCHR(st.st_mode)) {
    termios t;
    const bool tty = ioctl(fd, TCGETS, &t) == 0;
    info.kind = tty ? "terminal" : "char device";
    info.can_block = tty;  // /dev/null, /dev/urandom and friends never wait
  } else {
    info.kind = S_ISREG(st.st_mode) ? "file" : "fd";
    info.file_io = true;
  }
  return info;
}

double ms_of(const timespec* ts) { return ts ? ts->tv_sec * 1e3 + ts->tv_nsec / 1e6 : -1; }

// A wait with a timeout in ms (< 0: none). Zero never waits.
bool timed_wait(const char* call, double ms, char* what, std::size_t size) {
  if (ms == 0) return false;
  if (ms < 0) snprintf(what, size, "%s(no timeout)", call); else snprintf(what, size, "%s(timeout %.3g ms)", call, ms);
  return true;
}

bool always(const char* text, char* what, std::size_t size) {
  snprintf(what, size, "%s", text);
  return true;
}

std::size_t iov_bytes(const iovec* iov, long n) {
  std::size_t total = 0;
  for (long i = 0; iov && i < n && i < IOV_MAX; ++i) total += iov[i].iov_len;
  return total;
}

std::size_t msg_bytes(const msghdr* m) { return m ? iov_bytes(m->msg_iov, static_cast<long>(m->msg_iovlen)) : 0; }

std::size_t mmsg_bytes(const mmsghdr* v, long n) {
  std::size_t total = 0;
  for (long i = 0; v && i < n && i < 1024; ++i) total += msg_bytes(&v[i].msg_hdr);
  return total;
}

bool futex_waits(long op) {
  switch (op & FUTEX_CMD_MASK) {
    case FUTEX_WAIT: case FUTEX_WAIT_BITSET: case FUTEX_LOCK_PI: case FUTEX_LOCK_PI2: case FUTEX_WAIT_REQUEUE_PI:
      return true;
    default:
      return false;
  }
}

// open/openat of a FIFO without O_NONBLOCK waits for the other end.
bool fifo_open(const char* call, int dirfd, const char* path, long flags, char* what, std::size_t size) {
  if (!path || (flags & O_NONBLOCK)) return false;
  struct stat st;
  if (fstatat(dirfd, path, &st, 0) != 0 || !S_ISFIFO(st.st_mode)) return false;
  snprintf(what, size, "%s(\"%.80s\": FIFO, blocking)", call, path);
  return true;
}

bool sem_ops_wait(const sembuf* ops, long n) {
  for (long i = 0; ops && i < n && i < 1024; ++i) {
    if (!(ops[i].sem_flg & IPC_NOWAIT)) return true;
  }
  return false;
}

bool mq_blocking(int mqd) {
  mq_attr attr{};
  return syscall(SYS_mq_getsetattr, mqd, nullptr, &attr) == 0 && !(attr.mq_flags & O_NONBLOCK);
}

}  // namespace

bool blocking_fd_call(const char* call, int fd, std::size_t bytes, bool write_side, char* what,
                      std::size_t size) noexcept {
  // Our fstat and fcntl are not the user's calls: let them through untrapped.
  const std::uint8_t selector = watch::t_trap_selector;
  watch::t_trap_selector = 0;
  const int saved = errno;
  const auto& cfg = watch::config();
  bool blocks = false;
  if (!(write_side && (fd == STDOUT_FILENO || fd == STDERR_FILENO) && !cfg.std_stream_reports.load())) {
    const FdInfo info = describe_fd(fd);
    const bool report = info.blocking_mode && (info.file_io ? cfg.file_io_reports.load() : info.can_block);
    if (report) {
      const int n = snprintf(what, size, "%s(fd %d: %s%s", call, fd, info.kind, info.file_io ? "" : ", blocking");
      if (n > 0 && static_cast<std::size_t>(n) < size) {
        if (bytes == SIZE_MAX) snprintf(what + n, size - n, ")"); else snprintf(what + n, size - n, ", %zu bytes)", bytes);
      }
      blocks = true;
    }
  }
  errno = saved;
  watch::t_trap_selector = selector;
  return blocks;
}

bool blocking_syscall(long nr, const long a[6], char* what, std::size_t size) noexcept {
  const int saved = errno;
  const int fd = static_cast<int>(a[0]);
  auto ptr = [&](int i) { return reinterpret_cast<const void*>(a[i]); };
  auto fd_call = [&](const char* call, int which_fd, std::size_t bytes, bool write_side) {
    return blocking_fd_call(call, which_fd, bytes, write_side, what, size);
  };
  constexpr std::size_t kNoBytes = SIZE_MAX;
  bool r = false;
  switch (nr) {
    // Data on fds: blocking when the fd is in blocking mode and can wait.
    case SYS_read: r = fd_call("read", fd, a[2], false); break;
    case SYS_write: r = fd_call("write", fd, a[2], true); break;
    case SYS_readv: r = fd_call("readv", fd, iov_bytes(static_cast<const iovec*>(ptr(1)), a[2]), false); break;
    case SYS_writev: r = fd_call("writev", fd, iov_bytes(static_cast<const iovec*>(ptr(1)), a[2]), true); break;
    case SYS_pread64: r = fd_call("pread64", fd, a[2], false); break;
    case SYS_pwrite64: r = fd_call("pwrite64", fd, a[2], true); break;
    case SYS_preadv: case SYS_preadv2:
      r = !(nr == SYS_preadv2 && (a[5] & RWF_NOWAIT)) &&
          fd_call("preadv", fd, iov_bytes(static_cast<const iovec*>(ptr(1)), a[2]), false);
      break;
    case SYS_pwritev: case SYS_pwritev2:
      r = !(nr == SYS_pwritev2 && (a[5] & RWF_NOWAIT)) &&
          fd_call("pwritev", fd, iov_bytes(static_cast<const iovec*>(ptr(1)), a[2]), true);
      break;
    case SYS_recvfrom: r = !(a[3] & MSG_DONTWAIT) && fd_call("recvfrom", fd, a[2], false); break;
    case SYS_sendto: r = !(a[3] & MSG_DONTWAIT) && fd_call("sendto", fd, a[2], true); break;
    case SYS_recvmsg: r = !(a[2] & MSG_DONTWAIT) && fd_call("recvmsg", fd, msg_bytes(static_cast<const msghdr*>(ptr(1))), false); break;
    case SYS_sendmsg: r = !(a[2] & MSG_DONTWAIT) && fd_call("sendmsg", fd, msg_bytes(static_cast<const msghdr*>(ptr(1))), true); break;
    case SYS_recvmmsg:
      r = !(a[3] & MSG_DONTWAIT) && fd_call("recvmmsg", fd, mmsg_bytes(static_cast<const mmsghdr*>(ptr(1)), a[2]), false);
      break;
    case SYS_sendmmsg:
      r = !(a[3] & MSG_DONTWAIT) && fd_call("sendmmsg", fd, mmsg_bytes(static_cast<const mmsghdr*>(ptr(1)), a[2]), true);
      break;
    case SYS_sendfile:  // (out, in, offset, count): either end can wait
      r = fd_call("sendfile", fd, a[3], true) || fd_call("sendfile", static_cast<int>(a[1]), a[3], false);
      break;
    case SYS_splice:  // (in, off_in, out, off_out, len, flags)
      r = !(a[5] & SPLICE_F_NONBLOCK) &&
          (fd_call("splice", fd, a[4], false) || fd_call("splice", static_cast<int>(a[2]), a[4], true));
      break;
    case SYS_tee:
      r = !(a[3] & SPLICE_F_NONBLOCK) &&
          (fd_call("tee", fd, a[2], false) || fd_call("tee", static_cast<int>(a[1]), a[2], true));
      break;
    case SYS_vmsplice:
      r = !(a[3] & SPLICE_F_NONBLOCK) && fd_call("vmsplice", fd, iov_bytes(static_cast<const iovec*>(ptr(1)), a[2]), true);
      break;
    case SYS_accept: r = fd_call("accept", fd, kNoBytes, false); break;
    case SYS_accept4: r = fd_call("accept4", fd, kNoBytes, false); break;
    case SYS_connect: r = fd_call("connect", fd, kNoBytes, true); break;

    // Sleeps and waits.
    case SYS_nanosleep:
      snprintf(what, size, "nanosleep(%.3g ms)", ms_of(static_cast<const timespec*>(ptr(0))));
      r = true;
      break;
    case SYS_clock_nanosleep:
      snprintf(what, size, "clock_nanosleep(%s%.3g ms)", (a[1] & TIMER_ABSTIME) ? "until " : "",
               ms_of(static_cast<const timespec*>(ptr(2))));
      r = true;
      break;
    case SYS_futex:
      if (futex_waits(a[1])) {
        const long op = a[1] & FUTEX_CMD_MASK;
        snprintf(what, size, "futex(%s)", op == FUTEX_WAIT ? "FUTEX_WAIT" : op == FUTEX_WAIT_BITSET ? "FUTEX_WAIT_BITSET"
                                          : op == FUTEX_WAIT_REQUEUE_PI ? "FUTEX_WAIT_REQUEUE_PI" : "FUTEX_LOCK_PI");
        r = true;
      }
      break;
    case SYS_futex_waitv: r = always("futex_waitv", what, size); break;
    case SYS_poll: r = timed_wait("poll", static_cast<int>(a[2]), what, size); break;
    case SYS_ppoll: r = timed_wait("ppoll", ms_of(static_cast<const timespec*>(ptr(2))), what, size); break;
    case SYS_select: {
      const auto* tv = static_cast<const timeval*>(ptr(4));
      r = timed_wait("select", tv ? tv->tv_sec * 1e3 + tv->tv_usec / 1e3 : -1, what, size);
      break;
    }
    case SYS_pselect6: r = timed_wait("pselect6", ms_of(static_cast<const timespec*>(ptr(4))), what, size); break;
    case SYS_epoll_wait: r = timed_wait("epoll_wait", static_cast<int>(a[3]), what, size); break;
    case SYS_epoll_pwait: r = timed_wait("epoll_pwait", static_cast<int>(a[3]), what, size); break;
    case SYS_epoll_pwait2: r = timed_wait("epoll_pwait2", ms_of(static_cast<const timespec*>(ptr(3))), what, size); break;
    case SYS_wait4: r = !(a[2] & WNOHANG) && always("wait4(without WNOHANG)", what, size); break;
    case SYS_waitid: r = !(a[3] & WNOHANG) && always("waitid(without WNOHANG)", what, size); break;
    case SYS_io_uring_enter:  // (fd, to_submit, min_complete, flags, ...)
      if ((a[3] & IORING_ENTER_GETEVENTS) && a[2] > 0) {
        snprintf(what, size, "io_uring_enter(fd %d, waits for %ld completions)", fd, a[2]);
        r = true;
      }
      break;
    case SYS_rt_sigtimedwait: r = timed_wait("rt_sigtimedwait", ms_of(static_cast<const timespec*>(ptr(2))), what, size); break;
    case SYS_rt_sigsuspend: r = always("rt_sigsuspend", what, size); break;
    case SYS_pause: r = always("pause", what, size); break;

    // System V IPC and POSIX message queues.
    case SYS_msgrcv: r = !(a[4] & IPC_NOWAIT) && always("msgrcv(without IPC_NOWAIT)", what, size); break;
    case SYS_msgsnd: r = !(a[3] & IPC_NOWAIT) && always("msgsnd(without IPC_NOWAIT)", what, size); break;
    case SYS_semop: r = sem_ops_wait(static_cast<const sembuf*>(ptr(1)), a[2]) && always("semop(without IPC_NOWAIT)", what, size); break;
    case SYS_semtimedop:
      r = sem_ops_wait(static_cast<const sembuf*>(ptr(1)), a[2]) && always("semtimedop(without IPC_NOWAIT)", what, size);
      break;
    case SYS_mq_timedreceive: r = mq_blocking(fd) && always("mq_timedreceive(blocking queue)", what, size); break;
    case SYS_mq_timedsend: r = mq_blocking(fd) && always("mq_timedsend(blocking queue)", what, size); break;

    // Locks and syncs.
    case SYS_flock: r = !(a[1] & (LOCK_NB | LOCK_UN)) && always("flock(without LOCK_NB)", what, size); break;
    case SYS_fcntl:
      if (a[1] == F_SETLKW || a[1] == F_OFD_SETLKW) {
        r = always(a[1] == F_SETLKW ? "fcntl(F_SETLKW)" : "fcntl(F_OFD_SETLKW)", what, size);
      }
      break;
    case SYS_fsync: snprintf(what, size, "fsync(fd %d)", fd); r = true; break;
    case SYS_fdatasync: snprintf(what, size, "fdatasync(fd %d)", fd); r = true; break;
    case SYS_syncfs: snprintf(what, size, "syncfs(fd %d)", fd); r = true; break;
    case SYS_sync_file_range: snprintf(what, size, "sync_file_range(fd %d)", fd); r = true; break;
    case SYS_sync: r = always("sync", what, size); break;

    // Opening a FIFO waits for its other end.
    case SYS_open: r = fifo_open("open", AT_FDCWD, static_cast<const char*>(ptr(0)), a[1], what, size); break;
    case SYS_openat: r = fifo_open("openat", fd, static_cast<const char*>(ptr(1)), a[2], what, size); break;
    case SYS_openat2: {
      const auto* how = static_cast<const open_how*>(ptr(2));
      r = how && fifo_open("openat2", fd, static_cast<const char*>(ptr(1)), static_cast<long>(how->flags), what, size);
      break;
    }
    default: break;
  }
  errno = saved;
  return r;
}

}  // namespace unclog::calls
