// The io_uring backend. Each request is one SQE (plus a linked timeout for
// deadline variants) whose user_data is the waiting fiber; that fiber stays
// parked until the CQE has arrived, even when cancelled, so it has one
// request in flight at most and the CQE's result goes into the Fiber itself
// (io_result, in the line reaping touches anyway to wake it).
#include <errno.h>
#include <liburing.h>
#include <string.h>

#include <cstdio>
#include <string>
#include <system_error>

#include "backend.hpp"
#include "hub/hub.hpp"
#include "own_fd.hpp"
#include "thread_ring.hpp"

namespace unclog::io {
namespace {

// user_data of CQEs nobody waits for (linked timeouts, cancel requests).
constexpr __u64 kIgnored = 0;

__kernel_timespec to_timespec(std::int64_t ns) {
  __kernel_timespec ts{};
  ts.tv_sec = ns / 1000000000;
  ts.tv_nsec = ns % 1000000000;
  return ts;
}

class UringBackend final : public Backend {
 public:
  explicit UringBackend(detail::Hub& hub) : hub_(hub) {
    if (!take_thread_ring(ring_)) setup();
  }
  ~UringBackend() override { keep_thread_ring(ring_, pending_ == 0); }

  const char* name() const noexcept override { return "io_uring"; }

  long perform(const Request& r, std::int64_t timeout_ns) override {
    detail::Fiber* self = hub_.running();
    if (self->cancel_requested) return -ECANCELED;
    self->io_done = false;
    __kernel_timespec ts;  // read by the kernel at submission, while we wait
    if (timeout_ns < 0) {
      io_uring_sqe* sqe = next_sqe(1);
      prepare(sqe, r);
      io_uring_sqe_set_data(sqe, self);
    } else {
      io_uring_sqe* sqe = next_sqe(2);
      prepare(sqe, r);
      io_uring_sqe_set_data(sqe, self);
      sqe->flags |= IOSQE_IO_LINK;
      ts = to_timespec(timeout_ns);
      io_uring_sqe* t = next_sqe(1);  // the second of the two asked for above
      io_uring_prep_link_timeout(t, &ts, 0);
      io_uring_sqe_set_data64(t, kIgnored);
    }
    ++pending_;
    self->cancellable = true;
    hub_.park();
    self->cancellable = false;
    if (!self->io_done) [[unlikely]] return wait_cancelled(self);
    if (self->io_result == -ECANCELED && timeout_ns >= 0) return -ETIMEDOUT;  // the linked timeout fired
    return self->io_result;
  }

  void poll() override {
    int r = io_uring_submit_and_get_events(&ring_);
    if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) fail("io_uring_submit_and_get_events", -r);
    reap();
  }

  void wait(std::int64_t timeout_ns) override {
    io_uring_cqe* cqe = nullptr;
    __kernel_timespec ts = to_timespec(timeout_ns < 0 ? 0 : timeout_ns);
    int r = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, timeout_ns < 0 ? nullptr : &ts, nullptr);
    // -ETIME: the timeout passed; -EINTR: a signal (the detector's sampler
    // or the user's) interrupted the wait. Both just mean "look again".
    if (r < 0 && r != -ETIME && r != -EINTR && r != -EAGAIN && r != -EBUSY) fail("io_uring_submit_and_wait_timeout", -r);
    reap();
  }

 private:
  void setup() {
    const unsigned wanted[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
        IORING_SETUP_COOP_TASKRUN,
        0,
    };
    int r = -EINVAL;
    for (unsigned flags : wanted) {
      io_uring_params p{};
      p.flags = flags;
      r = io_uring_queue_init_params(256, &ring_, &p);
      if (r != -EINVAL) break;  // EINVAL: an older kernel; try fewer flags
    }
    if (r < 0) {
      const int err = -r;
      std::string why;
      switch (err) {
        case EMFILE: case ENFILE:
          // Not a refusal: backend_select falls back to epoll, which may
          // find the one fd it needs.
          throw std::system_error(err, std::generic_category(), "unclog: no file descriptor left for an io_uring");
        case EPERM: why = "refused by the system (seccomp profile, e.g. Docker's default, or kernel.io_uring_disabled=2)"; break;
        case ENOSYS: why = "not available in this kernel"; break;
        case ENOMEM: why = "no locked memory left (raise ulimit -l)"; break;
        default: why = strerror(err);
      }
      throw std::system_error(err, std::generic_category(),
                              "unclog: io_uring setup failed: " + why +
                                  "; allow io_uring (sysctl kernel.io_uring_disabled=0, or a seccomp profile that "
                                  "permits io_uring_setup), or set UNCLOG_BACKEND=epoll");
    }
    // Ours, not the program's: above the numbers it gets (tests that count
    // or reuse low fds, a closed stdin that would become our ring).
    ring_.ring_fd = ring_.enter_ring_fd = keep_fd_high(ring_.ring_fd);
  }

  // `needed` free SQEs in a row, submitting what is queued when the ring is
  // full. What io_uring_get_sqe does, for this ring's setup only (no SQPOLL,
  // so the kernel moves the head only inside our io_uring_enter; 64-byte
  // SQEs): the I/O path's one SQE costs a few instructions, not a dozen.
  io_uring_sqe* next_sqe(unsigned needed) {
    io_uring_sq& sq = ring_.sq;
    if (sq.ring_entries - (sq.sqe_tail - *sq.khead) < needed) [[unlikely]] {
      io_uring_submit(&ring_);
      if (sq.ring_entries - (sq.sqe_tail - *sq.khead) < needed) fail("io_uring_get_sqe", EBUSY);
    }
    return &sq.sqes[sq.sqe_tail++ & sq.ring_mask];
  }

  // Woken by cancel() before the CQE came: asks the kernel to drop the
  // request, then waits for its CQE (its buffers may be on this stack).
  long wait_cancelled(detail::Fiber* self) {
    io_uring_sqe* k = next_sqe(1);
    io_uring_prep_cancel(k, self, 0);
    io_uring_sqe_set_data64(k, kIgnored);
    while (!self->io_done) hub_.park();
    const int res = self->io_result;
    return res == -EINTR || res == -ECANCELED ? -ECANCELED : res;
  }

  static void prepare(io_uring_sqe* sqe, const Request& r) {
    switch (r.op) {
      case Request::Op::read: io_uring_prep_read(sqe, r.fd, r.buf, unsigned(r.len), -1); break;
      case Request::Op::write: io_uring_prep_write(sqe, r.fd, r.buf, unsigned(r.len), -1); break;
      case Request::Op::recv: io_uring_prep_recv(sqe, r.fd, r.buf, r.len, r.flags); break;
      case Request::Op::send: io_uring_prep_send(sqe, r.fd, r.buf, r.len, r.flags); break;
      case Request::Op::accept: io_uring_prep_accept(sqe, r.fd, r.addr, r.addrlen, r.flags); break;
      case Request::Op::connect: io_uring_prep_connect(sqe, r.fd, r.addr, r.addr_size); break;
      case Request::Op::close: io_uring_prep_close(sqe, r.fd); break;
      case Request::Op::poll: io_uring_prep_poll_add(sqe, r.fd, unsigned(r.flags)); break;
      case Request::Op::nop: io_uring_prep_nop(sqe); break;
      case Request::Op::openat: io_uring_prep_openat(sqe, r.fd, r.path, r.flags, r.mode); break;
      case Request::Op::pread: io_uring_prep_read(sqe, r.fd, r.buf, unsigned(r.len), __u64(r.offset)); break;
      case Request::Op::pwrite: io_uring_prep_write(sqe, r.fd, r.buf, unsigned(r.len), __u64(r.offset)); break;
      case Request::Op::fsync: io_uring_prep_fsync(sqe, r.fd, 0); break;
      case Request::Op::fdatasync: io_uring_prep_fsync(sqe, r.fd, IORING_FSYNC_DATASYNC); break;
      case Request::Op::statx:
        io_uring_prep_statx(sqe, r.fd, r.path, r.flags, r.mode, static_cast<struct statx*>(r.buf));
        break;
      case Request::Op::unlinkat: io_uring_prep_unlinkat(sqe, r.fd, r.path, r.flags); break;
      case Request::Op::renameat: io_uring_prep_renameat(sqe, r.fd, r.path, r.fd, r.path2, 0); break;
      case Request::Op::mkdirat: io_uring_prep_mkdirat(sqe, r.fd, r.path, r.mode); break;
    }
  }

  void reap() {
    // The tail read once (acquire), the head published once (release); no
    // CQE32, so a CQE's index is its position masked.
    unsigned head = *ring_.cq.khead;
    const unsigned tail = io_uring_smp_load_acquire(ring_.cq.ktail);
    for (; head != tail; ++head) {
      const io_uring_cqe& cqe = ring_.cq.cqes[head & ring_.cq.ring_mask];
      auto* f = reinterpret_cast<detail::Fiber*>(cqe.user_data);
      if (!f) continue;
      f->io_result = cqe.res;
      f->io_done = true;
      --pending_;
      hub_.unpark(f);
    }
    io_uring_smp_store_release(ring_.cq.khead, head);
  }

  [[noreturn]] static void fail(const char* call, int err) {
    throw std::system_error(err, std::generic_category(), std::string("unclog: ") + call + " failed");
  }

  detail::Hub& hub_;
  io_uring ring_{};
};

}  // namespace

std::unique_ptr<Backend> make_uring_backend(detail::Hub& hub) { return std::make_unique<UringBackend>(hub); }

}  // namespace unclog::io
