#include "echo_server.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>
#include <string>
#include <thread>

#include "unclog/unclog.hpp"

namespace echo {

int listen_loopback(sockaddr_in& addr) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd, 128) != 0) {
    throw std::runtime_error("echo: cannot listen on loopback");
  }
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return fd;
}

namespace {

void slow_reply(int fd, const char* buf, ssize_t n) {
  std::this_thread::sleep_for(std::chrono::milliseconds(70));  // BUG: a thread sleep on the hub
  ::send(fd, buf, static_cast<size_t>(n), 0);
}

}  // namespace

void serve(int listen_fd, int connections, bool blocking_bug) {
  for (int i = 0; i < connections; ++i) {
    int conn = unclog::io::accept(listen_fd, nullptr, nullptr);
    if (conn < 0) throw std::runtime_error("echo: accept failed");
    unclog::spawn({.name = "echo-" + std::to_string(i)}, [conn, blocking_bug] {
      char buf[4096];
      for (;;) {
        ssize_t n = unclog::io::recv(conn, buf, sizeof buf, 0);
        if (n <= 0) break;
        if (blocking_bug) {
          slow_reply(conn, buf, n);
        } else {
          unclog::io::send(conn, buf, static_cast<size_t>(n), 0);
        }
      }
      unclog::io::close(conn);
    }).detach();
  }
}

}  // namespace echo
