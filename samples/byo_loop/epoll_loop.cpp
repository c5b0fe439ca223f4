#include "epoll_loop.hpp"

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

#include "unclog/loops.hpp"

namespace byo {

EpollLoop::EpollLoop() : epfd_(epoll_create1(EPOLL_CLOEXEC)) {
  if (epfd_ < 0) throw std::runtime_error("epoll_create1 failed");
}
EpollLoop::~EpollLoop() { ::close(epfd_); }

void EpollLoop::add(int fd, std::function<void(int)> on_readable) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) throw std::runtime_error("epoll_ctl failed");
  handlers_[fd] = std::move(on_readable);
}

void EpollLoop::remove(int fd) {
  epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
  handlers_.erase(fd);
}

void EpollLoop::run() {
  epoll_event events[16];
  while (!handlers_.empty()) {
    int n;
    {
      // The loop's wait: what the loop does between two of them is a watched step.
      unclog::LoopWait wait("epoll loop");
      n = epoll_wait(epfd_, events, 16, 1000);
    }
    if (n < 0 && errno == EINTR) continue;
    for (int i = 0; i < n; ++i) {
      auto it = handlers_.find(events[i].data.fd);
      if (it == handlers_.end()) continue;
      auto handler = it->second;  // the callback may remove itself
      handler(events[i].data.fd);
    }
  }
}

}  // namespace byo
