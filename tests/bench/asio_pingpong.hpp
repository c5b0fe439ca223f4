// The loopback TCP ping-pong shared by the benchmarks (8 connections,
// 32-byte messages, both ends in one thread) and its Boost.Asio version.
// Included by io_bench and, compiled with and without unclog-asio's flag,
// by asio_bench (two programs: the flag must not be mixed in one).
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <stdexcept>
#include <utility>
#include <vector>

// After <utility>: Boost 1.74's asio/awaitable.hpp uses std::exchange without it.
#include <boost/asio.hpp>

#include "bench_util.hpp"

namespace bench {

constexpr int kConnections = 8;
constexpr int kRounds = 5000;
constexpr std::size_t kMessage = 32;

inline std::pair<int, int> connected_pair(int listener, const sockaddr_in& addr) {
  int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (::connect(c, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) throw std::runtime_error("connect");
  int s = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  int one = 1;
  setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return {c, s};
}

inline std::vector<std::pair<int, int>> make_pairs() {
  int l = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(l, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(l, 64) != 0) throw std::runtime_error("listen");
  ::getsockname(l, reinterpret_cast<sockaddr*>(&addr), &len);
  std::vector<std::pair<int, int>> pairs;
  for (int i = 0; i < kConnections; ++i) pairs.push_back(connected_pair(l, addr));
  ::close(l);
  return pairs;
}

inline void close_pairs(const std::vector<std::pair<int, int>>& pairs) {
  for (auto [c, s] : pairs) {
    ::close(c);
    ::close(s);
  }
}

// Round trips per second, `rounds` per connection.
inline double asio_pingpong(int rounds = kRounds) {
  namespace asio = boost::asio;
  auto pairs = make_pairs();
  double rate = bench::per_second(long(kConnections) * rounds, [&] {
    asio::io_context io(1);
    struct End {
      asio::ip::tcp::socket sock;
      char buf[kMessage] = {};
      int rounds = 0;
    };
    std::vector<std::unique_ptr<End>> ends;
    std::function<void(End*, bool)> step;  // bool: this end starts by writing
    step = [&](End* e, bool client) {
      auto read = [&, e, client] {
        asio::async_read(e->sock, asio::buffer(e->buf, kMessage), [&, e, client](auto ec, std::size_t) {
          if (ec) return;
          if (client) {
            if (++e->rounds < rounds) step(e, true);
          } else {
            asio::async_write(e->sock, asio::buffer(e->buf, kMessage), [&, e](auto ec2, std::size_t) {
              if (!ec2 && ++e->rounds < rounds) step(e, false);
            });
          }
        });
      };
      if (client) {
        asio::async_write(e->sock, asio::buffer(e->buf, kMessage), [read](auto ec, std::size_t) {
          if (!ec) read();
        });
      } else {
        read();
      }
    };
    for (auto [c, s] : pairs) {
      ends.push_back(std::make_unique<End>(End{asio::ip::tcp::socket(io, asio::ip::tcp::v4(), dup(c))}));
      step(ends.back().get(), true);
      ends.push_back(std::make_unique<End>(End{asio::ip::tcp::socket(io, asio::ip::tcp::v4(), dup(s))}));
      step(ends.back().get(), false);
    }
    io.run();
  });
  close_pairs(pairs);
  return rate;
}

}  // namespace bench
