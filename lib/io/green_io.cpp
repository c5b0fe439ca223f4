// The public green calls: build a Request, hand it to the hub's backend, map
// -errno to -1/errno. Outside a hub fiber they are the libc calls.
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "backend.hpp"
#include "hub/hub.hpp"
#include "unclog/io.hpp"

namespace unclog::io {
namespace {

using Op = Request::Op;

io::Backend* fiber_backend() noexcept {
  detail::Hub* h = detail::Hub::current();
  return h && h->running() ? &h->backend() : nullptr;
}

long finish(long r) noexcept {
  if (r < 0) {
    errno = static_cast<int>(-r);
    return -1;
  }
  return r;
}

// timeout_ns: -1 for none, as Backend::perform takes it.
long perform(Backend& b, const Request& r, std::int64_t timeout_ns) { return finish(b.perform(r, timeout_ns)); }

std::int64_t ns(Timeout t) noexcept { return t.count() < 0 ? 0 : t.count(); }

// Plain poll(2) for calls made outside a fiber: the ready events, or -1
// with errno (ETIMEDOUT when `t` ns passed; t < 0: no limit).
int poll_plain(int fd, short events, std::int64_t t) {
  pollfd p{fd, events, 0};
  const int ms = t < 0 ? -1 : static_cast<int>((t + 999999) / 1000000);
  const int r = ::poll(&p, 1, ms);
  if (r == 0) errno = ETIMEDOUT;
  return r > 0 ? p.revents : -1;
}

bool wait_ready(int fd, short events, std::int64_t t) { return poll_plain(fd, events, t) > 0; }

ssize_t do_read(int fd, void* buf, size_t n, std::int64_t t) {
  if (Backend* b = fiber_backend()) return perform(*b, {Op::read, fd, buf, n}, t);
  if (t >= 0 && !wait_ready(fd, POLLIN, t)) return -1;
  return ::read(fd, buf, n);
}
ssize_t do_write(int fd, const void* buf, size_t n, std::int64_t t) {
  if (Backend* b = fiber_backend()) return perform(*b, {Op::write, fd, const_cast<void*>(buf), n}, t);
  if (t >= 0 && !wait_ready(fd, POLLOUT, t)) return -1;
  return ::write(fd, buf, n);
}
ssize_t do_recv(int fd, void* buf, size_t n, int flags, std::int64_t t) {
  if (Backend* b = fiber_backend()) return perform(*b, {Op::recv, fd, buf, n, flags}, t);
  if (t >= 0 && !wait_ready(fd, POLLIN, t)) return -1;
  return ::recv(fd, buf, n, flags);
}
ssize_t do_send(int fd, const void* buf, size_t n, int flags, std::int64_t t) {
  if (Backend* b = fiber_backend()) return perform(*b, {Op::send, fd, const_cast<void*>(buf), n, flags}, t);
  if (t >= 0 && !wait_ready(fd, POLLOUT, t)) return -1;
  return ::send(fd, buf, n, flags);
}
int do_accept(int fd, sockaddr* addr, socklen_t* len, std::int64_t t) {
  if (Backend* b = fiber_backend()) {
    Request r{Op::accept, fd};
    r.addr = addr;
    r.addrlen = len;
    return static_cast<int>(perform(*b, r, t));
  }
  if (t >= 0 && !wait_ready(fd, POLLIN, t)) return -1;
  return ::accept(fd, addr, len);
}
int do_connect(int fd, const sockaddr* addr, socklen_t len, std::int64_t t) {
  if (Backend* b = fiber_backend()) {
    Request r{Op::connect, fd};
    r.addr = const_cast<sockaddr*>(addr);
    r.addr_size = len;
    return static_cast<int>(perform(*b, r, t));
  }
  return ::connect(fd, addr, len);  // a plain connect has no deadline
}
int do_poll(int fd, short events, std::int64_t t) {
  if (Backend* b = fiber_backend()) return static_cast<int>(perform(*b, {Op::poll, fd, nullptr, 0, events}, t));
  return poll_plain(fd, events, t);
}

}  // namespace

ssize_t read(int fd, void* buf, size_t n) { return do_read(fd, buf, n, -1); }
ssize_t write(int fd, const void* buf, size_t n) { return do_write(fd, buf, n, -1); }
ssize_t recv(int fd, void* buf, size_t n, int flags) { return do_recv(fd, buf, n, flags, -1); }
ssize_t send(int fd, const void* buf, size_t n, int flags) { return do_send(fd, buf, n, flags, -1); }
int accept(int fd, sockaddr* addr, socklen_t* len) { return do_accept(fd, addr, len, -1); }
int connect(int fd, const sockaddr* addr, socklen_t len) { return do_connect(fd, addr, len, -1); }
int poll(int fd, short events) { return do_poll(fd, events, -1); }

ssize_t read(int fd, void* buf, size_t n, Timeout t) { return do_read(fd, buf, n, ns(t)); }
ssize_t write(int fd, const void* buf, size_t n, Timeout t) { return do_write(fd, buf, n, ns(t)); }
ssize_t recv(int fd, void* buf, size_t n, int flags, Timeout t) { return do_recv(fd, buf, n, flags, ns(t)); }
ssize_t send(int fd, const void* buf, size_t n, int flags, Timeout t) { return do_send(fd, buf, n, flags, ns(t)); }
int accept(int fd, sockaddr* addr, socklen_t* len, Timeout t) { return do_accept(fd, addr, len, ns(t)); }
int connect(int fd, const sockaddr* addr, socklen_t len, Timeout t) { return do_connect(fd, addr, len, ns(t)); }
int poll(int fd, short events, Timeout t) { return do_poll(fd, events, ns(t)); }

// --- files ---

namespace {

long file_op(const Request& r) {
  if (Backend* b = fiber_backend()) return finish(b->perform(r, -1));
  return finish(perform_file_op_here(r));
}

Request path_request(Request::Op op, int dirfd, const char* path) {
  Request r{op, dirfd};
  r.path = path;
  return r;
}

}  // namespace

long perform_file_op_here(const Request& r) noexcept {
  long n = -1;
  switch (r.op) {
    case Op::openat: n = ::openat(r.fd, r.path, r.flags, r.mode); break;
    case Op::pread: n = ::pread(r.fd, r.buf, r.len, r.offset); break;
    case Op::pwrite: n = ::pwrite(r.fd, r.buf, r.len, r.offset); break;
    case Op::fsync: n = ::fsync(r.fd); break;
    case Op::fdatasync: n = ::fdatasync(r.fd); break;
    case Op::statx: n = ::statx(r.fd, r.path, r.flags, r.mode, static_cast<struct statx*>(r.buf)); break;
    case Op::unlinkat: n = ::unlinkat(r.fd, r.path, r.flags); break;
    case Op::renameat: n = ::renameat(r.fd, r.path, r.fd, r.path2); break;
    case Op::mkdirat: n = ::mkdirat(r.fd, r.path, r.mode); break;
    default: errno = EINVAL;
  }
  return n < 0 ? -errno : n;
}

int open(const char* path, int flags, mode_t mode) { return openat(AT_FDCWD, path, flags, mode); }

int openat(int dirfd, const char* path, int flags, mode_t mode) {
  Request r = path_request(Op::openat, dirfd, path);
  r.flags = flags;
  r.mode = mode;
  return static_cast<int>(file_op(r));
}

ssize_t pread(int fd, void* buf, size_t n, off_t offset) {
  Request r{Op::pread, fd, buf, n};
  r.offset = offset;
  return file_op(r);
}

ssize_t pwrite(int fd, const void* buf, size_t n, off_t offset) {
  Request r{Op::pwrite, fd, const_cast<void*>(buf), n};
  r.offset = offset;
  return file_op(r);
}

int fsync(int fd) { return static_cast<int>(file_op({Op::fsync, fd})); }
int fdatasync(int fd) { return static_cast<int>(file_op({Op::fdatasync, fd})); }

int statx(int dirfd, const char* path, int flags, unsigned mask, struct ::statx* out) {
  Request r = path_request(Op::statx, dirfd, path);
  r.flags = flags;
  r.mode = mask;
  r.buf = out;
  return static_cast<int>(file_op(r));
}

int unlink(const char* path) { return static_cast<int>(file_op(path_request(Op::unlinkat, AT_FDCWD, path))); }

int rename(const char* oldpath, const char* newpath) {
  Request r = path_request(Op::renameat, AT_FDCWD, oldpath);
  r.path2 = newpath;
  return static_cast<int>(file_op(r));
}

int mkdir(const char* path, mode_t mode) {
  Request r = path_request(Op::mkdirat, AT_FDCWD, path);
  r.mode = mode;
  return static_cast<int>(file_op(r));
}

int close(int fd) {
  if (Backend* b = fiber_backend()) return static_cast<int>(perform(*b, {Op::close, fd}, -1));
  return ::close(fd);
}

const char* backend_name() noexcept {
  detail::Hub* h = detail::Hub::current();
  return h ? h->backend().name() : "";
}

}  // namespace unclog::io
