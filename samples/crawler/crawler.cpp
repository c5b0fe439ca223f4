#include "crawler.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>

#include "unclog/unclog.hpp"

namespace crawler {
namespace {

using namespace std::chrono_literals;

struct Server {
  int fd = -1;
  sockaddr_in addr{};
};

Server listen_loopback() {
  Server s;
  s.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  s.addr.sin_family = AF_INET;
  s.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof s.addr;
  if (s.fd < 0 || ::bind(s.fd, reinterpret_cast<sockaddr*>(&s.addr), len) != 0 || ::listen(s.fd, 128) != 0) {
    throw std::runtime_error("crawler: cannot listen on loopback");
  }
  ::getsockname(s.fd, reinterpret_cast<sockaddr*>(&s.addr), &len);
  return s;
}

// One connection: read a request line, answer with a small page, close.
void serve(int conn, int server_index) {
  char buf[1024];
  ssize_t n = unclog::io::recv(conn, buf, sizeof buf, 0);
  if (n > 0) {
    std::string path(buf, static_cast<std::size_t>(n));
    path = path.substr(4, path.find(' ', 4) - 4);  // "GET /page HTTP/1.0"
    std::string body = "<html>server " + std::to_string(server_index) + " page " + path + "</html>";
    std::string reply = "HTTP/1.0 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    unclog::io::send(conn, reply.data(), reply.size(), 0);
  }
  unclog::io::close(conn);
}

// Resolves `host` as getaddrinfo would (NSS: /etc/hosts here), without
// blocking the other crawlers: the lookup runs on unclog's offload pool.
sockaddr_in resolve(const std::string& host, std::uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  const std::string service = std::to_string(port);
  const int rc = unclog::io::resolve(host.c_str(), service.c_str(), &hints, &list, 2s);
  if (rc != 0 || !list) throw std::runtime_error("crawler: cannot resolve " + host + ": " + gai_strerror(rc));
  sockaddr_in addr;
  std::memcpy(&addr, list->ai_addr, sizeof addr);
  freeaddrinfo(list);
  return addr;
}

std::string fetch_page(const std::string& host, std::uint16_t port, const std::string& path) {
  const sockaddr_in addr = resolve(host, port);
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (unclog::io::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr, 2s) != 0) {
    ::close(fd);
    throw std::runtime_error("crawler: connect failed");
  }
  std::string request = "GET " + path + " HTTP/1.0\r\n\r\n";
  unclog::io::send(fd, request.data(), request.size(), 0);
  std::string page;
  char buf[4096];
  for (;;) {
    ssize_t n = unclog::io::recv(fd, buf, sizeof buf, 0, 2s);
    if (n <= 0) break;
    page.append(buf, static_cast<std::size_t>(n));
  }
  unclog::io::close(fd);
  return page;
}

struct Job {
  int server;
  std::string path;
};

}  // namespace

void throttle(bool blocking) {
  if (blocking) {
    std::this_thread::sleep_for(60ms);  // BUG: stalls every fiber on the hub
  } else {
    unclog::sleep_for(60ms);  // only this fiber waits
  }
}

// The results file, written with green file I/O (io_uring): one line per
// page, at offsets handed out in order (the fibers share one thread).
class ResultsFile {
 public:
  explicit ResultsFile(const std::string& path) {
    if (path.empty()) return;
    fd_ = unclog::io::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) throw std::runtime_error("crawler: cannot open " + path + ": " + std::strerror(errno));
  }
  ~ResultsFile() {
    if (fd_ < 0) return;
    unclog::io::fsync(fd_);
    unclog::io::close(fd_);
  }
  void add(const std::string& line) {
    if (fd_ < 0) return;
    const off_t at = end_;
    end_ += static_cast<off_t>(line.size());
    if (unclog::io::pwrite(fd_, line.data(), line.size(), at) != static_cast<ssize_t>(line.size())) {
      throw std::runtime_error("crawler: cannot write the results");
    }
  }

 private:
  int fd_ = -1;
  off_t end_ = 0;
};

Result crawl(const Options& o) {
  ResultsFile results(o.results_path);
  std::vector<Server> servers;
  std::vector<unclog::JoinHandle<void>> acceptors;
  for (int s = 0; s < o.servers; ++s) {
    servers.push_back(listen_loopback());
    acceptors.push_back(unclog::spawn({.name = "server-" + std::to_string(s)}, [fd = servers.back().fd, s, &o] {
      for (int i = 0; i < o.pages_per_server; ++i) {
        int conn = unclog::io::accept(fd, nullptr, nullptr);
        if (conn < 0) return;
        unclog::spawn({.name = "conn"}, [conn, s] { serve(conn, s); }).detach();
      }
    }));
  }

  unclog::Channel<Job> jobs(4);
  Result result;
  std::vector<unclog::JoinHandle<void>> crawlers;
  for (int c = 0; c < o.crawlers; ++c) {
    crawlers.push_back(unclog::spawn({.name = "crawler-" + std::to_string(c)}, [&] {
      while (auto job = jobs.receive()) {
        throttle(o.polite_blocking);
        const std::uint16_t port = ntohs(servers[job->server].addr.sin_port);
        std::string page = fetch_page("localhost", port, job->path);
        result.pages += page.empty() ? 0 : 1;
        result.bytes += page.size();
        results.add("localhost:" + std::to_string(port) + job->path + " " + std::to_string(page.size()) + "\n");
      }
    }));
  }
  for (int p = 0; p < o.pages_per_server; ++p) {
    for (int s = 0; s < o.servers; ++s) jobs.send(Job{s, "/page" + std::to_string(p)});
  }
  jobs.close();
  for (auto& c : crawlers) c.join();
  for (auto& a : acceptors) a.join();
  for (auto& s : servers) ::close(s.fd);
  return result;
}

}  // namespace crawler
