// A plain epoll loop watched by unclog: the second callback blocks.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

#include "epoll_loop.hpp"
#include "unclog/watch.hpp"

using namespace std::chrono_literals;

int main() {
  unclog::hub_blocking_detection(true, 50ms);
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return 1;
  byo::EpollLoop loop;
  int n = 0;
  loop.add(fds[0], [&](int fd) {
    char c;
    (void)!::read(fd, &c, 1);
    if (++n == 2) usleep(100000);  // a blocking callback
    if (n == 3) loop.remove(fd);
  });
  (void)!::write(fds[1], "abc", 3);
  loop.run();
  std::printf("dispatched %d callbacks\n", n);
  return 0;
}
