#include "own_fd.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

namespace unclog::io {
namespace {

// Half the soft limit, at most 1024: far from where programs allocate, and
// below the top, which some programs probe or fill on purpose.
int floor_fd() noexcept {
  static const int floor = [] {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 1024;
    const rlim_t half = rl.rlim_cur / 2;
    return static_cast<int>(half > 1024 ? 1024 : (half < 3 ? 3 : half));
  }();
  return floor;
}

}  // namespace

int keep_fd_high(int fd) noexcept {
  if (fd < 0 || fd >= floor_fd()) return fd;
  const int high = ::fcntl(fd, F_DUPFD_CLOEXEC, floor_fd());
  if (high < 0) return fd;
  ::close(fd);
  return high;
}

}  // namespace unclog::io
