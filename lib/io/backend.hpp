// The green-I/O backend interface. A backend performs one request for the
// running fiber, suspending only that fiber, and lets the hub loop submit,
// reap and wait. Implementations: io_uring (uring_backend.cpp).
//
// Threading: a backend belongs to one hub and is used on its thread only.
#pragma once
#include <sys/socket.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace unclog::detail {
class Hub;
}

namespace unclog::io {

struct Request {
  enum class Op : std::uint8_t {
    read, write, recv, send, accept, connect, close, poll, nop,
    // files (the epoll backend runs these on the offload pool)
    openat, pread, pwrite, fsync, fdatasync, statx, unlinkat, renameat, mkdirat,
  };
  Op op;
  int fd = -1;                  // the fd; for path calls the directory fd (AT_FDCWD)
  void* buf = nullptr;          // read/recv target, write/send source; statx's struct
  std::size_t len = 0;
  int flags = 0;                // recv/send/accept4 flags; poll events; open/statx/unlink flags
  sockaddr* addr = nullptr;     // accept out, connect in
  socklen_t* addrlen = nullptr; // accept in/out
  socklen_t addr_size = 0;      // connect
  std::int64_t offset = 0;      // pread/pwrite
  const char* path = nullptr;   // openat/statx/unlinkat/mkdirat; renameat's old path
  const char* path2 = nullptr;  // renameat's new path
  unsigned mode = 0;            // openat/mkdirat mode; statx mask

  bool is_file_op() const noexcept { return op >= Op::openat; }
};

// Performs a file request with the plain system calls (on this thread).
// Returns the result or -errno.
long perform_file_op_here(const Request& r) noexcept;

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const noexcept = 0;

  // Performs `r` for the running fiber. timeout_ns < 0 means none. Returns
  // the result, or -errno (-ETIMEDOUT when the timeout hit, -ECANCELED when
  // the fiber was cancelled).
  virtual long perform(const Request& r, std::int64_t timeout_ns) = 0;

  // True while requests are queued or in flight. Not virtual: the hub asks
  // at every pass boundary.
  bool busy() const noexcept { return pending_ > 0; }
  // Submits queued requests and reaps completions without waiting.
  virtual void poll() = 0;
  // Submits, then waits until a completion arrives or timeout_ns passes
  // (timeout_ns < 0: no limit). Waking the fibers is the backend's job.
  virtual void wait(std::int64_t timeout_ns) = 0;

 protected:
  std::size_t pending_ = 0;  // requests whose fibers wait for them
};

// The backend for a new hub, as UNCLOG_BACKEND says: "io_uring", "epoll",
// or unset/empty for io_uring with a fallback to epoll (one notice line on
// stderr, once per process) when the kernel refuses it. Throws
// std::invalid_argument for another value, std::system_error when the
// backend asked for cannot be set up.
std::unique_ptr<Backend> make_backend(detail::Hub& hub);
std::unique_ptr<Backend> make_uring_backend(detail::Hub& hub);
std::unique_ptr<Backend> make_epoll_backend(detail::Hub& hub);
// At the fd limit: no fd of its own; green I/O fails with EMFILE.
std::unique_ptr<Backend> make_no_fd_backend();

// "" when UNCLOG_BACKEND is unset or valid, else the error message.
std::string backend_env_error();

}  // namespace unclog::io
