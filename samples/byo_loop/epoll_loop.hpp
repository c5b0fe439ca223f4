// Bring your own loop: a plain epoll loop, not unclog's hub. Its wait is
// marked with unclog::LoopWait, so what it dispatches between two waits is
// one watched step.
#pragma once
#include <functional>
#include <map>

namespace byo {

class EpollLoop {
 public:
  EpollLoop();
  ~EpollLoop();
  EpollLoop(const EpollLoop&) = delete;
  EpollLoop& operator=(const EpollLoop&) = delete;

  // Calls `on_readable` each time `fd` is readable, until remove(fd).
  void add(int fd, std::function<void(int)> on_readable);
  void remove(int fd);
  // Dispatches ready callbacks until no fd is registered.
  void run();

 private:
  int epfd_;
  std::map<int, std::function<void(int)>> handlers_;
};

}  // namespace byo
