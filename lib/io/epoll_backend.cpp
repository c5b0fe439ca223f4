// The epoll backend, for systems that refuse io_uring. A request is tried
// without blocking; when the kernel says EAGAIN the fiber waits for
// readiness (epoll, level-triggered, interest kept only while someone
// waits) and tries again. Deadlines and cancellation use the hub's timers.
//
// Blocking-mode fds are never made to block the thread: socket data calls
// use MSG_DONTWAIT, other calls wait for readiness first, and connect()
// switches the socket to non-blocking for the handshake and back.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <system_error>
#include <unordered_map>

#include "backend.hpp"
#include "own_fd.hpp"
#include "calls/calls.hpp"
#include "hub/hub.hpp"
#include "unclog/hub.hpp"

namespace unclog::io {
namespace {

class EpollBackend final : public Backend {
 public:
  explicit EpollBackend(detail::Hub& hub) : hub_(hub), epfd_(keep_fd_high(epoll_create1(EPOLL_CLOEXEC))) {
    if (epfd_ < 0) {
      throw std::system_error(errno, std::generic_category(),
                              errno == EMFILE || errno == ENFILE
                                  ? "unclog: no file descriptor left for the hub's epoll (raise ulimit -n)"
                                  : "unclog: epoll_create1 failed");
    }
  }
  ~EpollBackend() override { ::close(epfd_); }

  const char* name() const noexcept override { return "epoll"; }

  long perform(const Request& r, std::int64_t timeout_ns) override {
    if (hub_.running()->cancel_requested) return -ECANCELED;
    if (r.is_file_op()) return offloaded(r);
    const std::int64_t deadline = timeout_ns < 0 ? -1 : detail::monotonic_ns() + timeout_ns;
    switch (r.op) {
      case Request::Op::close: return ::close(r.fd) == 0 ? 0 : -errno;
      case Request::Op::nop: return 0;
      case Request::Op::poll: {
        long w = wait(r.fd, static_cast<std::uint32_t>(r.flags), deadline);
        return w < 0 ? w : ready_events(r.fd, static_cast<short>(r.flags));
      }
      case Request::Op::connect: return connect(r, deadline);
      default: break;
    }
    const bool socket = is_socket(r.fd);
    // Data calls on sockets take MSG_DONTWAIT; accept has no such flag.
    const bool nonblocking = (socket && r.op != Request::Op::accept) || (fcntl(r.fd, F_GETFL) & O_NONBLOCK);
    const std::uint32_t events = (r.op == Request::Op::write || r.op == Request::Op::send) ? EPOLLOUT : EPOLLIN;
    for (;;) {
      if (!nonblocking) {  // wait first: the call itself would block the thread
        long w = wait(r.fd, events, deadline);
        if (w < 0) return w;
      }
      long res = attempt(r, socket);
      if (res != -EAGAIN && res != -EWOULDBLOCK) return res;
      long w = wait(r.fd, events, deadline);
      if (w < 0) return w;
    }
  }

  void poll() override { reap(0); }
  void wait(std::int64_t timeout_ns) override { reap(timeout_ns); }

 private:
  struct Waiters {
    detail::Fiber* in = nullptr;
    detail::Fiber* out = nullptr;
    std::uint32_t registered = 0;
  };

  // Files are always "ready" to epoll: their calls go to the offload pool,
  // where waiting on a slow disk blocks a worker, not the hub.
  static long offloaded(const Request& r) {
    try {
      return unclog::offload([r] { return perform_file_op_here(r); });
    } catch (const std::system_error& e) {
      return -e.code().value();
    }
  }

  static bool is_socket(int fd) {
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
  }

  static long attempt(const Request& r, bool socket) {
    calls::InternalScope internal;  // our non-blocking attempts are not the user's calls
    ssize_t n = -1;
    switch (r.op) {
      case Request::Op::read:
        n = socket ? ::recv(r.fd, r.buf, r.len, MSG_DONTWAIT) : ::read(r.fd, r.buf, r.len);
        break;
      case Request::Op::write:
        n = socket ? ::send(r.fd, r.buf, r.len, MSG_DONTWAIT | MSG_NOSIGNAL) : ::write(r.fd, r.buf, r.len);
        break;
      case Request::Op::recv: n = ::recv(r.fd, r.buf, r.len, r.flags | MSG_DONTWAIT); break;
      case Request::Op::send: n = ::send(r.fd, r.buf, r.len, r.flags | MSG_DONTWAIT); break;
      case Request::Op::accept: n = ::accept4(r.fd, r.addr, r.addrlen, r.flags | SOCK_NONBLOCK); break;
      default: return -EINVAL;
    }
    if (n >= 0 && r.op == Request::Op::accept) {
      // Like io_uring's accept (and accept(2)): the new socket is blocking
      // unless asked otherwise; SOCK_NONBLOCK above only avoided a race.
      if (!(r.flags & SOCK_NONBLOCK)) fcntl(static_cast<int>(n), F_SETFL, fcntl(static_cast<int>(n), F_GETFL) & ~O_NONBLOCK);
    }
    return n < 0 ? -errno : n;
  }

  long connect(const Request& r, std::int64_t deadline) {
    calls::InternalScope internal;
    const int flags = fcntl(r.fd, F_GETFL);
    if (flags < 0) return -errno;
    if (!(flags & O_NONBLOCK)) fcntl(r.fd, F_SETFL, flags | O_NONBLOCK);
    long res = ::connect(r.fd, r.addr, r.addr_size) == 0 ? 0 : -errno;
    if (res == -EINPROGRESS) {
      res = wait(r.fd, EPOLLOUT, deadline);
      if (res == 0) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(r.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        res = -err;
      }
    }
    if (!(flags & O_NONBLOCK)) fcntl(r.fd, F_SETFL, flags);
    return res;
  }

  static long ready_events(int fd, short events) {
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, 0);
    return r < 0 ? -errno : p.revents;
  }

  // Parks the running fiber until `fd` reports `events` (EPOLLIN or
  // EPOLLOUT), the deadline passes (-ETIMEDOUT) or it is cancelled.
  long wait(int fd, std::uint32_t events, std::int64_t deadline) {
    detail::Fiber* self = hub_.running();
    Waiters& w = waiters_[fd];
    detail::Fiber*& slot = (events & EPOLLOUT) ? w.out : w.in;
    if (slot) return -EBUSY;  // another fiber already waits for this direction
    slot = self;
    long res = update(fd, w);
    if (res == -EPERM) {  // not pollable (a regular file): always ready
      slot = nullptr;
      erase_if_idle(fd);
      return 0;
    }
    if (res < 0) {
      slot = nullptr;
      erase_if_idle(fd);
      return res;
    }
    ++pending_;
    const bool timed_out = hub_.park_until(deadline);
    --pending_;
    Waiters& after = waiters_[fd];  // the map may have rehashed
    ((events & EPOLLOUT) ? after.out : after.in) = nullptr;
    update(fd, after);
    erase_if_idle(fd);
    if (timed_out) return -ETIMEDOUT;
    if (self->cancel_requested) return -ECANCELED;
    return 0;
  }

  long update(int fd, Waiters& w) {
    const std::uint32_t want = (w.in ? std::uint32_t(EPOLLIN) : 0u) | (w.out ? std::uint32_t(EPOLLOUT) : 0u);
    if (want == w.registered) return 0;
    epoll_event ev{};
    ev.events = want;
    ev.data.fd = fd;
    int op = EPOLL_CTL_DEL;
    if (!w.registered) op = EPOLL_CTL_ADD;
    else if (want) op = EPOLL_CTL_MOD;
    if (epoll_ctl(epfd_, op, fd, &ev) != 0) {
      if (op == EPOLL_CTL_DEL && (errno == EBADF || errno == ENOENT)) {
        w.registered = 0;
        return 0;
      }
      return -errno;
    }
    w.registered = want;
    return 0;
  }

  void erase_if_idle(int fd) {
    auto it = waiters_.find(fd);
    if (it != waiters_.end() && !it->second.in && !it->second.out && !it->second.registered) waiters_.erase(it);
  }

  void reap(std::int64_t timeout_ns) {
    epoll_event events[64];
    int n;
    if (timeout_ns < 0) {
      n = epoll_pwait2(epfd_, events, 64, nullptr, nullptr);
    } else {
      timespec ts{static_cast<time_t>(timeout_ns / 1000000000), static_cast<long>(timeout_ns % 1000000000)};
      n = epoll_pwait2(epfd_, events, 64, &ts, nullptr);
    }
    if (n < 0 && errno == ENOSYS) {  // kernels before 5.11
      int ms = timeout_ns < 0 ? -1 : static_cast<int>((timeout_ns + 999999) / 1000000);
      n = epoll_wait(epfd_, events, 64, ms);
    }
    for (int i = 0; i < n; ++i) {
      auto it = waiters_.find(events[i].data.fd);
      if (it == waiters_.end()) continue;
      const std::uint32_t ev = events[i].events;
      const bool hangup = ev & (EPOLLERR | EPOLLHUP);
      if (it->second.in && (hangup || (ev & EPOLLIN))) hub_.unpark(it->second.in);
      if (it->second.out && (hangup || (ev & EPOLLOUT))) hub_.unpark(it->second.out);
    }
  }

  detail::Hub& hub_;
  int epfd_;
  std::unordered_map<int, Waiters> waiters_;
};

}  // namespace

std::unique_ptr<Backend> make_epoll_backend(detail::Hub& hub) { return std::make_unique<EpollBackend>(hub); }

}  // namespace unclog::io
