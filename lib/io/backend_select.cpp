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
    case Choice::epoll: return make_epoll_backend(hub);
    case Choice::io_uring: return make_uring_backend(hub);
    case Choice::automatic: break;
  }
  if (g_uring_refused.load(std::memory_order_relaxed)) return make_epoll_backend(hub);
  try {
    return make_uring_backend(hub);
  } catch (const std::system_error& e) {
    const int err = e.code().value();
    if (err == EMFILE || err == ENFILE) {
      // The program is at its fd limit: this hub takes the epoll backend,
      // whose one fd may still fit, else none (the statement still runs;
      // its green I/O fails as the program's own calls would). Later hubs
      // try io_uring again.
      static std::atomic<bool> said{false};
      if (!said.exchange(true)) {
        std::fprintf(stderr, "unclog: no file descriptor left for an io_uring (%s); this hub uses epoll, or no "
                     "backend at all if that cannot be had either\n", std::strerror(err));
      }
      try {
        return make_epoll_backend(hub);
      } catch (const std::system_error& e2) {
        if (e2.code().value() != EMFILE && e2.code().value() != ENFILE) throw;
        return make_no_fd_backend();
      }
    }
    if (!is_refusal(err)) throw;
    if (!g_uring_refused.exchange(true)) {
      std::fprintf(stderr, "unclog: io_uring is refused here (%s); using the epoll backend\n",
                   std::strerror(e.code().value()));
    }
    return make_epoll_backend(hub);
  }
}

}  // namespace unclog::io
