// Which backend a hub gets: UNCLOG_BACKEND, else io_uring with a fallback.
#include <errno.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include "backend.hpp"

namespace unclog::io {
namespace {

enum class Choice { automatic, io_uring, epoll, invalid };

Choice choice(const char** raw) {
  const char* v = std::getenv("UNCLOG_BACKEND");
  *raw = v;
  if (!v || !*v) return Choice::automatic;
  if (!std::strcmp(v, "io_uring")) return Choice::io_uring;
  if (!std::strcmp(v, "epoll")) return Choice::epoll;
  return Choice::invalid;
}

// Set once io_uring was refused: later hubs go straight to epoll.
std::atomic<bool> g_uring_refused{false};

bool is_refusal(int err) { return err == EPERM || err == ENOSYS || err == EINVAL || err == EOPNOTSUPP; }
bool is_fd_limit(int err) { return err == EMFILE || err == ENFILE; }

void say_fd_limit_once(const char* backend, int err) {
  static std::atomic<bool> said{false};
  if (!said.exchange(true)) {
    std::fprintf(stderr, "unclog: no file descriptor left for the hub's %s (%s); this hub runs with the next "
                 "backend that fits, or none (green I/O then fails with EMFILE)\n", backend, std::strerror(err));
  }
}

// The epoll backend, or at the program's fd limit none: the statement still
// runs, its green I/O failing as the program's own calls would there.
std::unique_ptr<Backend> epoll_or_none(detail::Hub& hub) {
  try {
    return make_epoll_backend(hub);
  } catch (const std::system_error& e) {
    if (!is_fd_limit(e.code().value())) throw;
    say_fd_limit_once("epoll", e.code().value());
    return make_no_fd_backend();
  }
}

}  // namespace

std::string backend_env_error() {
  const char* raw;
  if (choice(&raw) != Choice::invalid) return "";
  return std::string("unclog: UNCLOG_BACKEND='") + raw + "' is not a backend: use io_uring or epoll";
}

std::unique_ptr<Backend> make_backend(detail::Hub& hub) {
  const char* raw;
  switch (choice(&raw)) {
    case Choice::invalid: throw std::invalid_argument(backend_env_error());
    case Choice::epoll: return epoll_or_none(hub);
    case Choice::io_uring: return make_uring_backend(hub);
    case Choice::automatic: break;
  }
  if (g_uring_refused.load(std::memory_order_relaxed)) return epoll_or_none(hub);
  try {
    return make_uring_backend(hub);
  } catch (const std::system_error& e) {
    const int err = e.code().value();
    if (is_fd_limit(err)) {
      // At the program's fd limit: not a refusal; later hubs try io_uring again.
      say_fd_limit_once("io_uring", err);
      return epoll_or_none(hub);
    }
    if (!is_refusal(err)) throw;
    if (!g_uring_refused.exchange(true)) {
      std::fprintf(stderr, "unclog: io_uring is refused here (%s); using the epoll backend\n",
                   std::strerror(e.code().value()));
    }
    return epoll_or_none(hub);
  }
}

}  // namespace unclog::io
