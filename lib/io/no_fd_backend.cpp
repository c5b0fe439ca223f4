// The backend of a hub made at the program's fd limit, where neither a ring
// nor an epoll fd can be had: fibers, timers and steps work (the watched
// statement runs, as it would without us), green I/O fails with EMFILE, as
// the program's own calls would there.
#include <errno.h>
#include <time.h>

#include "backend.hpp"

namespace unclog::io {
namespace {

class NoFdBackend final : public Backend {
 public:
  const char* name() const noexcept override { return "none (no file descriptor left)"; }
  long perform(const Request&, std::int64_t) override { return -EMFILE; }
  void poll() override {}
  void wait(std::int64_t timeout_ns) override {
    // Only timers can wake a fiber here (nothing is ever in flight).
    if (timeout_ns <= 0) return;
    timespec ts{static_cast<time_t>(timeout_ns / 1000000000), static_cast<long>(timeout_ns % 1000000000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR) {
    }
  }
};

}  // namespace

std::unique_ptr<Backend> make_no_fd_backend() { return std::make_unique<NoFdBackend>(); }

}  // namespace unclog::io
