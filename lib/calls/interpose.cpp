// The interposed functions. Each one: a fast check (is a watched step
// running here?), a classification when it is (can this call block?), a
// record, then the real libc function with the caller's arguments.
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

#include "calls.hpp"
#include "watch/call_report.hpp"
#include "watch/config.hpp"
#include "watch/sampler.hpp"

namespace unclog::calls {
namespace {

__attribute__((tls_model("initial-exec"))) thread_local int t_internal = 0;

// The slot of a step that is being watched for calls right now, or null.
inline watch::StepSlot* watching() noexcept {
  watch::StepSlot* s = watch::t_bound_slot;
  if (!s) [[likely]] return nullptr;  // an unwatched thread: the whole cost
  if (!(s->seq.load(std::memory_order_relaxed) & 1)) return nullptr;
  if (t_internal || s->allow_depth.load(std::memory_order_relaxed) > 0) return nullptr;
  if (!watch::config().call_reports.load(std::memory_order_relaxed)) return nullptr;
  return s;
}

// Resolves the next definition of a libc function, once.
void* next_symbol(const char* name, const char* version) {
  void* p = version ? dlvsym(RTLD_NEXT, name, version) : nullptr;
  return p ? p : dlsym(RTLD_NEXT, name);
}

#define UNCLOG_REAL_V(fn, version)                                                        \
  ([]() {                                                                                 \
    static std::atomic<void*> cached{nullptr};                                            \
    void* p = cached.load(std::memory_order_acquire);                                     \
    if (!p) {                                                                             \
      p = next_symbol(#fn, version);                                                      \
      cached.store(p, std::memory_order_release);                                         \
    }                                                                                     \
    return reinterpret_cast<decltype(&::fn)>(p);                                          \
  }())
#define UNCLOG_REAL(fn) UNCLOG_REAL_V(fn, nullptr)

// What kind of fd this is, and whether a call on it can block.
struct FdInfo {
  const char* kind;
  bool blocking_mode;  // O_NONBLOCK is off
  bool can_block;      // a call in blocking mode may wait
  bool file_io;        // regular file, directory, block device
};

// Classifies `fd` (fstat, fcntl, isatty); errno is kept.
FdInfo describe_fd(int fd) {
  const int saved = errno;
  FdInfo info{"fd", true, false, false};
  struct stat st;
  if (fstat(fd, &st) == 0) {
    const int fl = fcntl(fd, F_GETFL);
    info.blocking_mode = fl >= 0 && !(fl & O_NONBLOCK);
    if (S_ISSOCK(st.st_mode)) {
      info.kind = "socket";
      info.can_block = true;
    } else if (S_ISFIFO(st.st_mode)) {
      info.kind = "pipe";
      info.can_block = true;
    } else if (S_ISCHR(st.st_mode)) {
      const bool tty = isatty(fd);
      info.kind = tty ? "terminal" : "char device";
      info.can_block = tty;  // /dev/null, /dev/urandom and friends never wait
    } else {
      info.kind = S_ISREG(st.st_mode) ? "file" : "fd";
      info.file_io = true;
    }
  }
  errno = saved;
  return info;
}

// Records a blocking call of the running step, described printf-style;
// errno is kept.
void record(watch::StepSlot* s, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void record(watch::StepSlot* s, const char* fmt, ...) {
  const int saved = errno;
  char what[watch::kCallText];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  watch::record_call(*s, what);
  errno = saved;
}

// An fd-based call (read, write, recv, ...) in a watched step: recorded
// when it can block.
void check_fd_slow(watch::StepSlot* s, const char* call, int fd, std::size_t bytes, bool write_side) {
  const auto& cfg = watch::config();
  if (write_side && (fd == STDOUT_FILENO || fd == STDERR_FILENO) && !cfg.std_stream_reports.load()) {
    return;  // logging and the test runner's own output
  }
  const FdInfo info = describe_fd(fd);
  if (!info.blocking_mode) return;
  if (info.file_io) {
    if (cfg.file_io_reports.load()) record(s, "%s(fd %d: %s, %zu bytes)", call, fd, info.kind, bytes);
  } else if (info.can_block) {
    record(s, "%s(fd %d: %s, blocking, %zu bytes)", call, fd, info.kind, bytes);
  }
}

// The fast checks: on a thread with no watched step, watching() is one TLS
// load and a branch, and that is the whole cost of a call.
// `dontwait`: the call itself asked not to wait (MSG_DONTWAIT).
inline void check_fd(const char* call, int fd, std::size_t bytes, bool write_side, bool dontwait = false) {
  if (watch::StepSlot* s = watching()) [[unlikely]] {
    if (!dontwait) check_fd_slow(s, call, fd, bytes, write_side);
  }
}

inline void check_always(const char* what) {
  if (watch::StepSlot* s = watching()) [[unlikely]] record(s, "%s", what);
}

double ms_of(const timespec* ts) { return ts ? ts->tv_sec * 1e3 + ts->tv_nsec / 1e6 : -1; }

inline void check_timeout_ms(const char* call, double ms) {  // ms < 0: no timeout
  if (ms == 0) return;
  if (watch::StepSlot* s = watching()) [[unlikely]] {
    if (ms < 0) record(s, "%s(no timeout)", call); else record(s, "%s(timeout %.3g ms)", call, ms);
  }
}

std::size_t iov_bytes(const iovec* iov, int n) {
  std::size_t total = 0;
  for (int i = 0; i < n; ++i) total += iov[i].iov_len;
  return total;
}

}  // namespace

InternalScope::InternalScope() noexcept { ++t_internal; }
InternalScope::~InternalScope() { --t_internal; }

}  // namespace unclog::calls

using namespace unclog::calls;

extern "C" {

// --- always blocking ---

unsigned int sleep(unsigned int seconds) {
  check_always("sleep");
  return UNCLOG_REAL(sleep)(seconds);
}

int usleep(useconds_t usec) {
  if (unclog::watch::StepSlot* s = watching()) record(s, "usleep(%.3g ms)", usec / 1e3);
  return UNCLOG_REAL(usleep)(usec);
}

int nanosleep(const struct timespec* req, struct timespec* rem) {
  if (unclog::watch::StepSlot* s = watching()) record(s, "nanosleep(%.3g ms)", ms_of(req));
  return UNCLOG_REAL(nanosleep)(req, rem);
}

int clock_nanosleep(clockid_t clock, int flags, const struct timespec* req, struct timespec* rem) {
  if (unclog::watch::StepSlot* s = watching()) {
    record(s, "clock_nanosleep(%s%.3g ms)", flags & TIMER_ABSTIME ? "until " : "", ms_of(req));
  }
  return UNCLOG_REAL(clock_nanosleep)(clock, flags, req, rem);
}

int pthread_cond_wait(pthread_cond_t* c, pthread_mutex_t* m) {
  check_always("pthread_cond_wait");
  return UNCLOG_REAL_V(pthread_cond_wait, "GLIBC_2.3.2")(c, m);
}

int pthread_cond_timedwait(pthread_cond_t* c, pthread_mutex_t* m, const struct timespec* t) {
  check_always("pthread_cond_timedwait");
  return UNCLOG_REAL_V(pthread_cond_timedwait, "GLIBC_2.3.2")(c, m, t);
}

int pthread_cond_clockwait(pthread_cond_t* c, pthread_mutex_t* m, clockid_t clock, const struct timespec* t) {
  check_always("pthread_cond_clockwait");
  return UNCLOG_REAL(pthread_cond_clockwait)(c, m, clock, t);
}

int sem_wait(sem_t* s) {
  check_always("sem_wait");
  return UNCLOG_REAL(sem_wait)(s);
}

int sem_timedwait(sem_t* s, const struct timespec* t) {
  check_always("sem_timedwait");
  return UNCLOG_REAL(sem_timedwait)(s, t);
}

int sem_clockwait(sem_t* s, clockid_t clock, const struct timespec* t) {
  check_always("sem_clockwait");
  return UNCLOG_REAL(sem_clockwait)(s, clock, t);
}

int pthread_join(pthread_t t, void** ret) {
  check_always("pthread_join");
  return UNCLOG_REAL(pthread_join)(t, ret);
}

pid_t wait(int* status) {
  check_always("wait");
  return UNCLOG_REAL(wait)(status);
}

pid_t waitpid(pid_t pid, int* status, int options) {
  if (!(options & WNOHANG)) check_always("waitpid(without WNOHANG)");
  return UNCLOG_REAL(waitpid)(pid, status, options);
}

int system(const char* command) {
  check_always("system");
  return UNCLOG_REAL(system)(command);
}

FILE* popen(const char* command, const char* type) {
  check_always("popen");
  return UNCLOG_REAL(popen)(command, type);
}

int getaddrinfo(const char* node, const char* service, const struct addrinfo* hints, struct addrinfo** res) {
  if (unclog::watch::StepSlot* s = watching()) record(s, "getaddrinfo(\"%s\")", node ? node : "");
  return UNCLOG_REAL(getaddrinfo)(node, service, hints, res);
}

int getnameinfo(const struct sockaddr* sa, socklen_t salen, char* host, socklen_t hostlen, char* serv,
                socklen_t servlen, int flags) {
  check_always("getnameinfo");
  return UNCLOG_REAL(getnameinfo)(sa, salen, host, hostlen, serv, servlen, flags);
}

struct hostent* gethostbyname(const char* name) {
  check_always("gethostbyname");
  return UNCLOG_REAL(gethostbyname)(name);
}

struct hostent* gethostbyname2(const char* name, int af) {
  check_always("gethostbyname2");
  return UNCLOG_REAL(gethostbyname2)(name, af);
}

int gethostbyname_r(const char* name, struct hostent* ret, char* buf, size_t buflen, struct hostent** result,
                    int* h_errnop) {
  check_always("gethostbyname_r");
  return UNCLOG_REAL(gethostbyname_r)(name, ret, buf, buflen, result, h_errnop);
}

int fsync(int fd) {
  check_always("fsync");
  return UNCLOG_REAL(fsync)(fd);
}

int fdatasync(int fd) {
  check_always("fdatasync");
  return UNCLOG_REAL(fdatasync)(fd);
}

int flock(int fd, int operation) {
  if (!(operation & LOCK_NB) && !(operation & LOCK_UN)) check_always("flock(without LOCK_NB)");
  return UNCLOG_REAL(flock)(fd, operation);
}

int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);  // every fcntl argument fits a pointer
  va_end(ap);
  if (cmd == F_SETLKW || cmd == F_OFD_SETLKW) check_always("fcntl(F_SETLKW)");
  return UNCLOG_REAL(fcntl)(fd, cmd, arg);
}

long syscall(long number, ...) {
  va_list ap;
  va_start(ap, number);
  long a[6];
  for (long& x : a) x = va_arg(ap, long);
  va_end(ap);
  if (number == SYS_futex) {
    const int op = static_cast<int>(a[1]) & FUTEX_CMD_MASK;
    if (op == FUTEX_WAIT || op == FUTEX_WAIT_BITSET || op == FUTEX_LOCK_PI || op == FUTEX_WAIT_REQUEUE_PI) {
      check_always("futex(FUTEX_WAIT)");
    }
  }
  return UNCLOG_REAL(syscall)(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}

int poll(struct pollfd* fds, nfds_t n, int timeout) {
  check_timeout_ms("poll", timeout);
  return UNCLOG_REAL(poll)(fds, n, timeout);
}

int ppoll(struct pollfd* fds, nfds_t n, const struct timespec* t, const sigset_t* mask) {
  check_timeout_ms("ppoll", ms_of(t));
  return UNCLOG_REAL(ppoll)(fds, n, t, mask);
}

int select(int n, fd_set* r, fd_set* w, fd_set* e, struct timeval* t) {
  check_timeout_ms("select", t ? t->tv_sec * 1e3 + t->tv_usec / 1e3 : -1);
  return UNCLOG_REAL(select)(n, r, w, e, t);
}

int pselect(int n, fd_set* r, fd_set* w, fd_set* e, const struct timespec* t, const sigset_t* mask) {
  check_timeout_ms("pselect", ms_of(t));
  return UNCLOG_REAL(pselect)(n, r, w, e, t, mask);
}

int epoll_wait(int epfd, struct epoll_event* events, int max, int timeout) {
  check_timeout_ms("epoll_wait", timeout);
  return UNCLOG_REAL(epoll_wait)(epfd, events, max, timeout);
}

int epoll_pwait(int epfd, struct epoll_event* events, int max, int timeout, const sigset_t* mask) {
  check_timeout_ms("epoll_pwait", timeout);
  return UNCLOG_REAL(epoll_pwait)(epfd, events, max, timeout, mask);
}

// --- blocking when the fd is ---

ssize_t read(int fd, void* buf, size_t n) {
  check_fd("read", fd, n, false);
  return UNCLOG_REAL(read)(fd, buf, n);
}

ssize_t readv(int fd, const struct iovec* iov, int cnt) {
  if (unclog::watch::StepSlot* s = watching()) check_fd_slow(s, "readv", fd, iov_bytes(iov, cnt), false);
  return UNCLOG_REAL(readv)(fd, iov, cnt);
}

ssize_t write(int fd, const void* buf, size_t n) {
  check_fd("write", fd, n, true);
  return UNCLOG_REAL(write)(fd, buf, n);
}

ssize_t writev(int fd, const struct iovec* iov, int cnt) {
  if (unclog::watch::StepSlot* s = watching()) check_fd_slow(s, "writev", fd, iov_bytes(iov, cnt), true);
  return UNCLOG_REAL(writev)(fd, iov, cnt);
}

ssize_t recv(int fd, void* buf, size_t n, int flags) {
  check_fd("recv", fd, n, false, flags & MSG_DONTWAIT);
  return UNCLOG_REAL(recv)(fd, buf, n, flags);
}

ssize_t recvfrom(int fd, void* buf, size_t n, int flags, struct sockaddr* addr, socklen_t* len) {
  check_fd("recvfrom", fd, n, false, flags & MSG_DONTWAIT);
  return UNCLOG_REAL(recvfrom)(fd, buf, n, flags, addr, len);
}

ssize_t recvmsg(int fd, struct msghdr* msg, int flags) {
  if (unclog::watch::StepSlot* s = watching(); s && !(flags & MSG_DONTWAIT)) {
    check_fd_slow(s, "recvmsg", fd, iov_bytes(msg->msg_iov, static_cast<int>(msg->msg_iovlen)), false);
  }
  return UNCLOG_REAL(recvmsg)(fd, msg, flags);
}

ssize_t send(int fd, const void* buf, size_t n, int flags) {
  check_fd("send", fd, n, true, flags & MSG_DONTWAIT);
  return UNCLOG_REAL(send)(fd, buf, n, flags);
}

ssize_t sendto(int fd, const void* buf, size_t n, int flags, const struct sockaddr* addr, socklen_t len) {
  check_fd("sendto", fd, n, true, flags & MSG_DONTWAIT);
  return UNCLOG_REAL(sendto)(fd, buf, n, flags, addr, len);
}

ssize_t sendmsg(int fd, const struct msghdr* msg, int flags) {
  if (unclog::watch::StepSlot* s = watching(); s && !(flags & MSG_DONTWAIT)) {
    check_fd_slow(s, "sendmsg", fd, iov_bytes(msg->msg_iov, static_cast<int>(msg->msg_iovlen)), true);
  }
  return UNCLOG_REAL(sendmsg)(fd, msg, flags);
}

int accept(int fd, struct sockaddr* addr, socklen_t* len) {
  check_fd("accept", fd, 0, false);
  return UNCLOG_REAL(accept)(fd, addr, len);
}

int accept4(int fd, struct sockaddr* addr, socklen_t* len, int flags) {
  check_fd("accept4", fd, 0, false);
  return UNCLOG_REAL(accept4)(fd, addr, len, flags);
}

int connect(int fd, const struct sockaddr* addr, socklen_t len) {
  check_fd("connect", fd, 0, true);
  return UNCLOG_REAL(connect)(fd, addr, len);
}

// --- blocking only when contended ---

int pthread_mutex_lock(pthread_mutex_t* m) {
  if (watching()) {
    const int r = UNCLOG_REAL(pthread_mutex_trylock)(m);
    if (r != EBUSY) return r;  // ours now (or an error lock would give too)
    check_always("pthread_mutex_lock(contended)");
  }
  return UNCLOG_REAL(pthread_mutex_lock)(m);
}

}  // extern "C"
