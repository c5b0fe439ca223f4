// The interposed functions. Each one: a fast check (is a watched step
// running here?), a classification when it is (can this call block?), a
// record, then the real libc function with the caller's arguments. Those
// with nothing to do on an unwatched thread are UNCLOG_INTERPOSE'd: there,
// a jump to libc's (real.hpp).
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
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
#include <cstring>

#include "calls.hpp"
#include "real.hpp"
#include "classify.hpp"
#include "fd_modes.hpp"
#include "loop_waits.hpp"
#include "trap.hpp"
#include "unclog/watch.hpp"
#include "watch/call_report.hpp"
#include "watch/config.hpp"
#include "watch/sampler.hpp"

// glibc's fortified entry points, declared by its headers only when
// _FORTIFY_SOURCE is on (same types as there).
extern "C" {
ssize_t __read_chk(int fd, void* buf, size_t n, size_t buflen);
ssize_t __recv_chk(int fd, void* buf, size_t n, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void* buf, size_t n, size_t buflen, int flags, struct sockaddr* addr,
                       socklen_t* len);
int __poll_chk(struct pollfd* fds, nfds_t n, int timeout, size_t fdslen);
int __ppoll_chk(struct pollfd* fds, nfds_t n, const struct timespec* t, const sigset_t* mask, size_t fdslen);
}

namespace unclog::calls {

constinit std::atomic<LoopWaitHook> g_loop_wait_hook{nullptr};

namespace {

// The fast checks: on a thread with no watched step, watching() is one TLS
// load and a branch; real_call adds its own (real.hpp).
// `dontwait`: the call itself asked not to wait (MSG_DONTWAIT).
inline void check_fd(const char* call, int fd, std::size_t bytes, bool write_side, bool dontwait = false) {
  if (watch::StepSlot* s = watching()) [[unlikely]] {
    char what[watch::kCallText];
    if (!dontwait && blocking_fd_call(call, fd, bytes, write_side, what, sizeof what)) record(s, false, "%s", what);
  }
}

inline void check_always(const char* what) {
  if (watch::StepSlot* s = watching()) [[unlikely]] record(s, false, "%s", what);
}

double ms_of(const timespec* ts) { return ts ? ts->tv_sec * 1e3 + ts->tv_nsec / 1e6 : -1; }

inline void check_timeout_ms(const char* call, double ms) {  // ms < 0: no timeout
  if (ms == 0) return;
  if (watch::StepSlot* s = watching()) [[unlikely]] {
    if (ms < 0) record(s, false, "%s(no timeout)", call); else record(s, false, "%s(timeout %.3g ms)", call, ms);
  }
}

std::size_t iov_bytes(const iovec* iov, int n) {
  std::size_t total = 0;
  for (int i = 0; i < n; ++i) total += iov[i].iov_len;
  return total;
}

// Fds passed over a socket (SCM_RIGHTS) share their file description with
// the sender, and take numbers that may have been closed unseen.
void forget_received_fds(const msghdr* msg) {
  for (const cmsghdr* c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(const_cast<msghdr*>(msg), const_cast<cmsghdr*>(c))) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < n; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      fd_modes::forget(fd);
    }
  }
}

}  // namespace

InternalScope::InternalScope() noexcept : selector_(watch::t_trap_selector) {
  ++t_internal;
  watch::t_trap_selector = 0;
}
InternalScope::~InternalScope() {
  --t_internal;
  watch::t_trap_selector = selector_;
}

}  // namespace unclog::calls

using namespace unclog::calls;

extern "C" {

// --- always blocking ---

UNCLOG_INTERPOSE(unsigned int, sleep, (unsigned int seconds), (seconds)) {
  check_always("sleep");
  return real_call(UNCLOG_REAL(sleep), seconds);
}

UNCLOG_INTERPOSE(int, usleep, (useconds_t usec), (usec)) {
  if (unclog::watch::StepSlot* s = watching()) record(s, false, "usleep(%.3g ms)", usec / 1e3);
  return real_call(UNCLOG_REAL(usleep), usec);
}

UNCLOG_INTERPOSE(int, nanosleep, (const struct timespec* req, struct timespec* rem), (req, rem)) {
  if (unclog::watch::StepSlot* s = watching()) record(s, false, "nanosleep(%.3g ms)", ms_of(req));
  return real_call(UNCLOG_REAL(nanosleep), req, rem);
}

UNCLOG_INTERPOSE(int, clock_nanosleep, (clockid_t clock, int flags, const struct timespec* req, struct timespec* rem),
                 (clock, flags, req, rem)) {
  if (unclog::watch::StepSlot* s = watching()) {
    record(s, false, "clock_nanosleep(%s%.3g ms)", flags & TIMER_ABSTIME ? "until " : "", ms_of(req));
  }
  return real_call(UNCLOG_REAL(clock_nanosleep), clock, flags, req, rem);
}

int pthread_cond_wait(pthread_cond_t* c, pthread_mutex_t* m) {
  UNCLOG_LOOP_WAIT(false, UNCLOG_REAL_V(pthread_cond_wait, "GLIBC_2.3.2")(c, m))
  check_always("pthread_cond_wait");
  return real_call(UNCLOG_REAL_V(pthread_cond_wait, "GLIBC_2.3.2"), c, m);
}

int pthread_cond_timedwait(pthread_cond_t* c, pthread_mutex_t* m, const struct timespec* t) {
  UNCLOG_LOOP_WAIT(false, UNCLOG_REAL_V(pthread_cond_timedwait, "GLIBC_2.3.2")(c, m, t))
  check_always("pthread_cond_timedwait");
  return real_call(UNCLOG_REAL_V(pthread_cond_timedwait, "GLIBC_2.3.2"), c, m, t);
}

int pthread_cond_clockwait(pthread_cond_t* c, pthread_mutex_t* m, clockid_t clock, const struct timespec* t) {
  UNCLOG_LOOP_WAIT(false, UNCLOG_REAL(pthread_cond_clockwait)(c, m, clock, t))
  check_always("pthread_cond_clockwait");
  return real_call(UNCLOG_REAL(pthread_cond_clockwait), c, m, clock, t);
}

UNCLOG_INTERPOSE(int, sem_wait, (sem_t* s), (s)) {
  check_always("sem_wait");
  return real_call(UNCLOG_REAL(sem_wait), s);
}

UNCLOG_INTERPOSE(int, sem_timedwait, (sem_t* s, const struct timespec* t), (s, t)) {
  check_always("sem_timedwait");
  return real_call(UNCLOG_REAL(sem_timedwait), s, t);
}

UNCLOG_INTERPOSE(int, sem_clockwait, (sem_t* s, clockid_t clock, const struct timespec* t), (s, clock, t)) {
  check_always("sem_clockwait");
  return real_call(UNCLOG_REAL(sem_clockwait), s, clock, t);
}

UNCLOG_INTERPOSE(int, pthread_join, (pthread_t t, void** ret), (t, ret)) {
  check_always("pthread_join");
  return real_call(UNCLOG_REAL(pthread_join), t, ret);
}

UNCLOG_INTERPOSE(pid_t, wait, (int* status), (status)) {
  check_always("wait");
  return real_call(UNCLOG_REAL(wait), status);
}

UNCLOG_INTERPOSE(pid_t, waitpid, (pid_t pid, int* status, int options), (pid, status, options)) {
  if (!(options & WNOHANG)) check_always("waitpid(without WNOHANG)");
  return real_call(UNCLOG_REAL(waitpid), pid, status, options);
}

UNCLOG_INTERPOSE(int, system, (const char* command), (command)) {
  check_always("system");
  return real_call(UNCLOG_REAL(system), command);
}

UNCLOG_INTERPOSE(FILE*, popen, (const char* command, const char* type), (command, type)) {
  check_always("popen");
  return real_call(UNCLOG_REAL(popen), command, type);
}

UNCLOG_INTERPOSE(int, getaddrinfo, (const char* node, const char* service, const struct addrinfo* hints,
                 struct addrinfo** res),
                 (node, service, hints, res)) {
  if (unclog::watch::StepSlot* s = watching()) record(s, false, "getaddrinfo(\"%s\")", node ? node : "");
  return real_call(UNCLOG_REAL(getaddrinfo), node, service, hints, res);
}

UNCLOG_INTERPOSE(int, getnameinfo, (const struct sockaddr* sa, socklen_t salen, char* host,
                 socklen_t hostlen, char* serv, socklen_t servlen, int flags),
                 (sa, salen, host, hostlen, serv, servlen, flags)) {
  check_always("getnameinfo");
  return real_call(UNCLOG_REAL(getnameinfo), sa, salen, host, hostlen, serv, servlen, flags);
}

UNCLOG_INTERPOSE(struct hostent*, gethostbyname, (const char* name), (name)) {
  check_always("gethostbyname");
  return real_call(UNCLOG_REAL(gethostbyname), name);
}

UNCLOG_INTERPOSE(struct hostent*, gethostbyname2, (const char* name, int af), (name, af)) {
  check_always("gethostbyname2");
  return real_call(UNCLOG_REAL(gethostbyname2), name, af);
}

UNCLOG_INTERPOSE(int, gethostbyname_r, (const char* name, struct hostent* ret, char* buf, size_t buflen,
                 struct hostent** result, int* h_errnop),
                 (name, ret, buf, buflen, result, h_errnop)) {
  check_always("gethostbyname_r");
  return real_call(UNCLOG_REAL(gethostbyname_r), name, ret, buf, buflen, result, h_errnop);
}

UNCLOG_INTERPOSE(int, fsync, (int fd), (fd)) {
  check_always("fsync");
  return real_call(UNCLOG_REAL(fsync), fd);
}

UNCLOG_INTERPOSE(int, fdatasync, (int fd), (fd)) {
  check_always("fdatasync");
  return real_call(UNCLOG_REAL(fdatasync), fd);
}

UNCLOG_INTERPOSE(int, flock, (int fd, int operation), (fd, operation)) {
  if (!(operation & LOCK_NB) && !(operation & LOCK_UN)) check_always("flock(without LOCK_NB)");
  return real_call(UNCLOG_REAL(flock), fd, operation);
}

// Raw system calls through libc's syscall(): where this thread traps its
// system calls, the trap judges the call (it sees the number as the kernel
// does); elsewhere the same classification runs here.
// Six arguments are read whatever the caller passed (the number says how
// many count): the sixth comes from the caller's stack, which
// AddressSanitizer would call an overflow when the caller is instrumented.
__attribute__((no_sanitize("address"))) long syscall(long number, ...) {
  va_list ap;
  va_start(ap, number);
  long a[6];
  for (long& x : a) x = va_arg(ap, long);
  va_end(ap);
  if (unclog::watch::StepSlot* s = watching(); s && !unclog::watch::t_trap_selector) {
    char what[unclog::watch::kCallText];
    if (blocking_syscall(number, a, what, sizeof what)) record(s, false, "%s", what);
  }
  // Signal state changed past libc's functions: SIGSYS stays ours and
  // deliverable, as through sigaction() and pthread_sigmask().
  if ((number == SYS_rt_sigaction && trap::handler_installed()) ||
      (number == SYS_rt_sigprocmask && trap::thread_armed())) {
    const long r = number == SYS_rt_sigaction ? trap::raw_sigaction(a) : trap::raw_sigprocmask(a);
    if (r < 0 && r > -4096) {
      errno = static_cast<int>(-r);
      return -1;
    }
    return r;
  }
  // Left trapped where this thread traps (the trap judges it, above); a
  // CallWindow all the same, so that no sampling signal interrupts it.
  unclog::watch::CallWindow window;
  const long r = UNCLOG_REAL(syscall)(number, a[0], a[1], a[2], a[3], a[4], a[5]);
  window.close();
  fd_modes::note_syscall(number, a, r);
  return r;
}

int poll(struct pollfd* fds, nfds_t n, int timeout) {
  UNCLOG_LOOP_WAIT(true, UNCLOG_REAL(poll)(fds, n, timeout))
  check_timeout_ms("poll", timeout);
  return real_call(UNCLOG_REAL(poll), fds, n, timeout);
}

int ppoll(struct pollfd* fds, nfds_t n, const struct timespec* t, const sigset_t* mask) {
  sigset_t scratch;
  UNCLOG_LOOP_WAIT(true, UNCLOG_REAL(ppoll)(fds, n, t, trap::deliverable_mask(mask, &scratch)))
  check_timeout_ms("ppoll", ms_of(t));
  return real_call(UNCLOG_REAL(ppoll), fds, n, t, trap::deliverable_mask(mask, &scratch));
}

int select(int n, fd_set* r, fd_set* w, fd_set* e, struct timeval* t) {
  UNCLOG_LOOP_WAIT(true, UNCLOG_REAL(select)(n, r, w, e, t))
  check_timeout_ms("select", t ? t->tv_sec * 1e3 + t->tv_usec / 1e3 : -1);
  return real_call(UNCLOG_REAL(select), n, r, w, e, t);
}

int pselect(int n, fd_set* r, fd_set* w, fd_set* e, const struct timespec* t, const sigset_t* mask) {
  sigset_t scratch;
  UNCLOG_LOOP_WAIT(true, UNCLOG_REAL(pselect)(n, r, w, e, t, trap::deliverable_mask(mask, &scratch)))
  check_timeout_ms("pselect", ms_of(t));
  return real_call(UNCLOG_REAL(pselect), n, r, w, e, t, trap::deliverable_mask(mask, &scratch));
}

int epoll_wait(int epfd, struct epoll_event* events, int max, int timeout) {
  UNCLOG_LOOP_WAIT(true, UNCLOG_REAL(epoll_wait)(epfd, events, max, timeout))
  check_timeout_ms("epoll_wait", timeout);
  return real_call(UNCLOG_REAL(epoll_wait), epfd, events, max, timeout);
}

int epoll_pwait(int epfd, struct epoll_event* events, int max, int timeout, const sigset_t* mask) {
  sigset_t scratch;
  UNCLOG_LOOP_WAIT(true, UNCLOG_REAL(epoll_pwait)(epfd, events, max, timeout, trap::deliverable_mask(mask, &scratch)))
  check_timeout_ms("epoll_pwait", timeout);
  return real_call(UNCLOG_REAL(epoll_pwait), epfd, events, max, timeout, trap::deliverable_mask(mask, &scratch));
}

int epoll_pwait2(int epfd, struct epoll_event* events, int max, const struct timespec* t, const sigset_t* mask) {
  sigset_t scratch;
  UNCLOG_LOOP_WAIT(true, UNCLOG_REAL(epoll_pwait2)(epfd, events, max, t, trap::deliverable_mask(mask, &scratch)))
  check_timeout_ms("epoll_pwait2", ms_of(t));
  return real_call(UNCLOG_REAL(epoll_pwait2), epfd, events, max, t, trap::deliverable_mask(mask, &scratch));
}

// --- blocking when the fd is ---

UNCLOG_INTERPOSE(ssize_t, read, (int fd, void* buf, size_t n), (fd, buf, n)) {
  check_fd("read", fd, n, false);
  return real_call(UNCLOG_REAL(read), fd, buf, n);
}

UNCLOG_INTERPOSE(ssize_t, readv, (int fd, const struct iovec* iov, int cnt), (fd, iov, cnt)) {
  if (watching()) check_fd("readv", fd, iov_bytes(iov, cnt), false);
  return real_call(UNCLOG_REAL(readv), fd, iov, cnt);
}

UNCLOG_INTERPOSE(ssize_t, write, (int fd, const void* buf, size_t n), (fd, buf, n)) {
  check_fd("write", fd, n, true);
  return real_call(UNCLOG_REAL(write), fd, buf, n);
}

UNCLOG_INTERPOSE(ssize_t, writev, (int fd, const struct iovec* iov, int cnt), (fd, iov, cnt)) {
  if (watching()) check_fd("writev", fd, iov_bytes(iov, cnt), true);
  return real_call(UNCLOG_REAL(writev), fd, iov, cnt);
}

UNCLOG_INTERPOSE(ssize_t, recv, (int fd, void* buf, size_t n, int flags), (fd, buf, n, flags)) {
  check_fd("recv", fd, n, false, flags & MSG_DONTWAIT);
  return real_call(UNCLOG_REAL(recv), fd, buf, n, flags);
}

UNCLOG_INTERPOSE(ssize_t, recvfrom, (int fd, void* buf, size_t n, int flags, struct sockaddr* addr, socklen_t* len),
                 (fd, buf, n, flags, addr, len)) {
  check_fd("recvfrom", fd, n, false, flags & MSG_DONTWAIT);
  return real_call(UNCLOG_REAL(recvfrom), fd, buf, n, flags, addr, len);
}

ssize_t recvmsg(int fd, struct msghdr* msg, int flags) {
  if (watching() && !(flags & MSG_DONTWAIT)) {
    check_fd("recvmsg", fd, iov_bytes(msg->msg_iov, static_cast<int>(msg->msg_iovlen)), false);
  }
  const ssize_t r = real_call(UNCLOG_REAL(recvmsg), fd, msg, flags);
  if (r >= 0 && msg->msg_controllen > 0) [[unlikely]] forget_received_fds(msg);
  return r;
}

UNCLOG_INTERPOSE(ssize_t, send, (int fd, const void* buf, size_t n, int flags), (fd, buf, n, flags)) {
  check_fd("send", fd, n, true, flags & MSG_DONTWAIT);
  return real_call(UNCLOG_REAL(send), fd, buf, n, flags);
}

UNCLOG_INTERPOSE(ssize_t, sendto, (int fd, const void* buf, size_t n, int flags, const struct sockaddr* addr,
                 socklen_t len),
                 (fd, buf, n, flags, addr, len)) {
  check_fd("sendto", fd, n, true, flags & MSG_DONTWAIT);
  return real_call(UNCLOG_REAL(sendto), fd, buf, n, flags, addr, len);
}

UNCLOG_INTERPOSE(ssize_t, sendmsg, (int fd, const struct msghdr* msg, int flags), (fd, msg, flags)) {
  if (watching() && !(flags & MSG_DONTWAIT)) {
    check_fd("sendmsg", fd, iov_bytes(msg->msg_iov, static_cast<int>(msg->msg_iovlen)), true);
  }
  return real_call(UNCLOG_REAL(sendmsg), fd, msg, flags);
}

int accept(int fd, struct sockaddr* addr, socklen_t* len) {
  check_fd("accept", fd, 0, false);
  return fd_modes::forget_new(real_call(UNCLOG_REAL(accept), fd, addr, len));
}

int accept4(int fd, struct sockaddr* addr, socklen_t* len, int flags) {
  check_fd("accept4", fd, 0, false);
  return fd_modes::forget_new(real_call(UNCLOG_REAL(accept4), fd, addr, len, flags));
}

UNCLOG_INTERPOSE(int, connect, (int fd, const struct sockaddr* addr, socklen_t len), (fd, addr, len)) {
  check_fd("connect", fd, 0, true);
  return real_call(UNCLOG_REAL(connect), fd, addr, len);
}

// --- the same calls as _FORTIFY_SOURCE compiles them ---
// With a buffer of known size and a length that is not a constant, a
// fortified build calls these instead, and glibc's versions reach the system
// call without passing through our read/recv/poll. Judged as the plain call,
// then glibc's own version (its size check included) runs.

UNCLOG_INTERPOSE(ssize_t, __read_chk, (int fd, void* buf, size_t n, size_t buflen), (fd, buf, n, buflen)) {
  check_fd("read", fd, n, false);
  return real_call(UNCLOG_REAL(__read_chk), fd, buf, n, buflen);
}

UNCLOG_INTERPOSE(ssize_t, __recv_chk, (int fd, void* buf, size_t n, size_t buflen, int flags),
                 (fd, buf, n, buflen, flags)) {
  check_fd("recv", fd, n, false, flags & MSG_DONTWAIT);
  return real_call(UNCLOG_REAL(__recv_chk), fd, buf, n, buflen, flags);
}

UNCLOG_INTERPOSE(ssize_t, __recvfrom_chk, (int fd, void* buf, size_t n, size_t buflen, int flags,
                 struct sockaddr* addr, socklen_t* len),
                 (fd, buf, n, buflen, flags, addr, len)) {
  check_fd("recvfrom", fd, n, false, flags & MSG_DONTWAIT);
  return real_call(UNCLOG_REAL(__recvfrom_chk), fd, buf, n, buflen, flags, addr, len);
}

int __poll_chk(struct pollfd* fds, nfds_t n, int timeout, size_t fdslen) {
  UNCLOG_LOOP_WAIT(true, UNCLOG_REAL(__poll_chk)(fds, n, timeout, fdslen))
  check_timeout_ms("poll", timeout);
  return real_call(UNCLOG_REAL(__poll_chk), fds, n, timeout, fdslen);
}

int __ppoll_chk(struct pollfd* fds, nfds_t n, const struct timespec* t, const sigset_t* mask, size_t fdslen) {
  sigset_t scratch;
  UNCLOG_LOOP_WAIT(true, UNCLOG_REAL(__ppoll_chk)(fds, n, t, trap::deliverable_mask(mask, &scratch), fdslen))
  check_timeout_ms("ppoll", ms_of(t));
  return real_call(UNCLOG_REAL(__ppoll_chk), fds, n, t, trap::deliverable_mask(mask, &scratch), fdslen);
}

// --- blocking only when contended ---

UNCLOG_INTERPOSE(int, pthread_mutex_lock, (pthread_mutex_t* m), (m)) {
  if (watching()) {
    const int r = UNCLOG_REAL(pthread_mutex_trylock)(m);
    if (r != EBUSY) return r;  // ours now (or an error lock would give too)
    check_always("pthread_mutex_lock(contended)");
  }
  return real_call(UNCLOG_REAL(pthread_mutex_lock), m);
}

// --- name service lookups: NSS may ask LDAP, sssd, systemd-userdb or NIS ---

UNCLOG_INTERPOSE(struct passwd*, getpwnam, (const char* name), (name)) {
  if (unclog::watch::StepSlot* s = watching()) record(s, false, "getpwnam(\"%s\")", name);
  return real_call(UNCLOG_REAL(getpwnam), name);
}

UNCLOG_INTERPOSE(struct passwd*, getpwuid, (uid_t uid), (uid)) {
  if (unclog::watch::StepSlot* s = watching()) record(s, false, "getpwuid(%u)", static_cast<unsigned>(uid));
  return real_call(UNCLOG_REAL(getpwuid), uid);
}

UNCLOG_INTERPOSE(int, getpwnam_r, (const char* name, struct passwd* pwd, char* buf, size_t n, struct passwd** result),
                 (name, pwd, buf, n, result)) {
  if (unclog::watch::StepSlot* s = watching()) record(s, false, "getpwnam_r(\"%s\")", name);
  return real_call(UNCLOG_REAL(getpwnam_r), name, pwd, buf, n, result);
}

UNCLOG_INTERPOSE(int, getpwuid_r, (uid_t uid, struct passwd* pwd, char* buf, size_t n, struct passwd** result),
                 (uid, pwd, buf, n, result)) {
  if (unclog::watch::StepSlot* s = watching()) record(s, false, "getpwuid_r(%u)", static_cast<unsigned>(uid));
  return real_call(UNCLOG_REAL(getpwuid_r), uid, pwd, buf, n, result);
}

UNCLOG_INTERPOSE(struct group*, getgrnam, (const char* name), (name)) {
  if (unclog::watch::StepSlot* s = watching()) record(s, false, "getgrnam(\"%s\")", name);
  return real_call(UNCLOG_REAL(getgrnam), name);
}

UNCLOG_INTERPOSE(struct group*, getgrgid, (gid_t gid), (gid)) {
  if (unclog::watch::StepSlot* s = watching()) record(s, false, "getgrgid(%u)", static_cast<unsigned>(gid));
  return real_call(UNCLOG_REAL(getgrgid), gid);
}

UNCLOG_INTERPOSE(int, getgrnam_r, (const char* name, struct group* grp, char* buf, size_t n, struct group** result),
                 (name, grp, buf, n, result)) {
  if (unclog::watch::StepSlot* s = watching()) record(s, false, "getgrnam_r(\"%s\")", name);
  return real_call(UNCLOG_REAL(getgrnam_r), name, grp, buf, n, result);
}

UNCLOG_INTERPOSE(int, getgrgid_r, (gid_t gid, struct group* grp, char* buf, size_t n, struct group** result),
                 (gid, grp, buf, n, result)) {
  if (unclog::watch::StepSlot* s = watching()) record(s, false, "getgrgid_r(%u)", static_cast<unsigned>(gid));
  return real_call(UNCLOG_REAL(getgrgid_r), gid, grp, buf, n, result);
}

UNCLOG_INTERPOSE(int, getgrouplist, (const char* user, gid_t group, gid_t* groups, int* ngroups),
                 (user, group, groups, ngroups)) {
  if (unclog::watch::StepSlot* s = watching()) record(s, false, "getgrouplist(\"%s\")", user ? user : "");
  return real_call(UNCLOG_REAL(getgrouplist), user, group, groups, ngroups);
}

UNCLOG_INTERPOSE(int, initgroups, (const char* user, gid_t group), (user, group)) {
  if (unclog::watch::StepSlot* s = watching()) record(s, false, "initgroups(\"%s\")", user ? user : "");
  return real_call(UNCLOG_REAL(initgroups), user, group);
}

UNCLOG_INTERPOSE(struct servent*, getservbyname, (const char* name, const char* proto), (name, proto)) {
  if (unclog::watch::StepSlot* s = watching()) record(s, false, "getservbyname(\"%s\")", name ? name : "");
  return real_call(UNCLOG_REAL(getservbyname), name, proto);
}

UNCLOG_INTERPOSE(struct servent*, getservbyport, (int port, const char* proto), (port, proto)) {
  if (unclog::watch::StepSlot* s = watching()) record(s, false, "getservbyport(%d)", ntohs(static_cast<uint16_t>(port)));
  return real_call(UNCLOG_REAL(getservbyport), port, proto);
}

UNCLOG_INTERPOSE(struct protoent*, getprotobyname, (const char* name), (name)) {
  if (unclog::watch::StepSlot* s = watching()) record(s, false, "getprotobyname(\"%s\")", name ? name : "");
  return real_call(UNCLOG_REAL(getprotobyname), name);
}

}  // extern "C"
