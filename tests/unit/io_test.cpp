// Green I/O on the hub: pipes, loopback TCP, deadlines, cancellation.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <stdexcept>
#include <chrono>
#include <cstring>
#include <string>

#include "unclog/hub.hpp"
#include "unclog/io.hpp"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

struct Pipe {
  int r = -1, w = -1;
  Pipe() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) == 0) {
      r = fds[0];
      w = fds[1];
    }
  }
  ~Pipe() {
    if (r >= 0) ::close(r);
    if (w >= 0) ::close(w);
  }
};

// A listening loopback socket on an ephemeral port.
int listen_loopback(sockaddr_in& addr) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd, 64) != 0) return -1;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return fd;
}

}  // namespace

TEST(GreenIo, BackendIsTheOneAskedFor) {
  const char* env = std::getenv("UNCLOG_BACKEND");
  const std::string want = env && *env ? env : "io_uring";
  unclog::run([&] { EXPECT_EQ(unclog::io::backend_name(), want); });
}

TEST(GreenIo, BogusBackendIsAClearError) {
  const char* old = std::getenv("UNCLOG_BACKEND");
  std::string saved = old ? old : "";
  setenv("UNCLOG_BACKEND", "bogus", 1);
  try {
    unclog::run([] {});
    ADD_FAILURE() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("UNCLOG_BACKEND='bogus'"), std::string::npos) << e.what();
  }
  if (old) setenv("UNCLOG_BACKEND", saved.c_str(), 1); else unsetenv("UNCLOG_BACKEND");
}

TEST(GreenIo, PipeReadSuspendsOnlyTheReader) {
  Pipe p;
  std::string got;
  bool writer_ran_first = false;
  unclog::run([&] {
    auto reader = unclog::spawn([&] {
      char buf[16];
      ssize_t n = unclog::io::read(p.r, buf, sizeof buf);
      got.assign(buf, n > 0 ? n : 0);
    });
    auto writer = unclog::spawn([&] {
      writer_ran_first = got.empty();
      unclog::sleep_for(5ms);
      EXPECT_EQ(unclog::io::write(p.w, "hello", 5), 5);
    });
    reader.join();
    writer.join();
  });
  EXPECT_TRUE(writer_ran_first);
  EXPECT_EQ(got, "hello");
}

TEST(GreenIo, PipeReadTimesOut) {
  Pipe p;
  unclog::run([&] {
    auto t0 = Clock::now();
    char c;
    errno = 0;
    EXPECT_EQ(unclog::io::read(p.r, &c, 1, 30ms), -1);
    EXPECT_EQ(errno, ETIMEDOUT);
    EXPECT_GE(Clock::now() - t0, 25ms);
    // The request was cancelled in the kernel: later data goes to the next read.
    EXPECT_EQ(::write(p.w, "x", 1), 1);
    EXPECT_EQ(unclog::io::read(p.r, &c, 1, 1s), 1);
    EXPECT_EQ(c, 'x');
  });
}

TEST(GreenIo, ReadWithinTheDeadlineSucceeds) {
  Pipe p;
  unclog::run([&] {
    unclog::spawn([&] {
      unclog::sleep_for(5ms);
      unclog::io::write(p.w, "y", 1);
    }).detach();
    char c = 0;
    EXPECT_EQ(unclog::io::read(p.r, &c, 1, 5s), 1);
    EXPECT_EQ(c, 'y');
  });
}

TEST(GreenIo, CancelAbandonsAWait) {
  Pipe p;
  unclog::run([&] {
    auto h = unclog::spawn([&] {
      char c;
      ssize_t n = unclog::io::read(p.r, &c, 1);
      return std::make_pair(n, errno);
    });
    unclog::sleep_for(5ms);
    h.cancel();
    auto [n, err] = h.join();
    EXPECT_EQ(n, -1);
    EXPECT_EQ(err, ECANCELED);
    // Nothing is left in flight: data written now is read by the next reader.
    EXPECT_EQ(::write(p.w, "z", 1), 1);
    char c = 0;
    EXPECT_EQ(unclog::io::read(p.r, &c, 1, 1s), 1);
    EXPECT_EQ(c, 'z');
  });
}

TEST(GreenIo, ErrorsKeepLibcSemantics) {
  unclog::run([] {
    char c;
    errno = 0;
    EXPECT_EQ(unclog::io::read(-1, &c, 1), -1);
    EXPECT_EQ(errno, EBADF);
    errno = 0;
    EXPECT_EQ(unclog::io::close(-1), -1);
    EXPECT_EQ(errno, EBADF);
  });
}

TEST(GreenIo, LoopbackTcpEchoBetweenFibers) {
  sockaddr_in addr;
  int lfd = listen_loopback(addr);
  ASSERT_GE(lfd, 0);
  constexpr int kClients = 8;
  int echoed = 0;
  unclog::run([&] {
    auto server = unclog::spawn({.name = "echo-server"}, [&] {
      for (int i = 0; i < kClients; ++i) {
        int c = unclog::io::accept(lfd, nullptr, nullptr);
        ASSERT_GE(c, 0) << std::strerror(errno);
        unclog::spawn({.name = "echo-conn"}, [c] {
          char buf[256];
          for (;;) {
            ssize_t n = unclog::io::recv(c, buf, sizeof buf, 0);
            if (n <= 0) break;
            unclog::io::send(c, buf, n, 0);
          }
          unclog::io::close(c);
        }).detach();
      }
    });
    std::vector<unclog::JoinHandle<void>> clients;
    for (int i = 0; i < kClients; ++i) {
      clients.push_back(unclog::spawn([&, i] {
        int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ASSERT_EQ(unclog::io::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0)
            << std::strerror(errno);
        for (int round = 0; round < 20; ++round) {
          std::string msg = "client " + std::to_string(i) + " round " + std::to_string(round);
          ASSERT_EQ(unclog::io::send(s, msg.data(), msg.size(), 0), ssize_t(msg.size()));
          std::string back(msg.size(), '\0');
          size_t got = 0;
          while (got < back.size()) {
            ssize_t n = unclog::io::recv(s, back.data() + got, back.size() - got, 0);
            ASSERT_GT(n, 0);
            got += n;
          }
          ASSERT_EQ(back, msg);
          ++echoed;
        }
        unclog::io::close(s);
      }));
    }
    for (auto& c : clients) c.join();
    server.join();
  });
  ::close(lfd);
  EXPECT_EQ(echoed, kClients * 20);
}

TEST(GreenIo, AcceptTimesOut) {
  sockaddr_in addr;
  int lfd = listen_loopback(addr);
  unclog::run([&] {
    errno = 0;
    EXPECT_EQ(unclog::io::accept(lfd, nullptr, nullptr, 20ms), -1);
    EXPECT_EQ(errno, ETIMEDOUT);
  });
  ::close(lfd);
}

TEST(GreenIo, PollReportsReadiness) {
  Pipe p;
  unclog::run([&] {
    errno = 0;
    EXPECT_EQ(unclog::io::poll(p.r, POLLIN, 10ms), -1);
    EXPECT_EQ(errno, ETIMEDOUT);
    ::write(p.w, "!", 1);
    int ev = unclog::io::poll(p.r, POLLIN, 1s);
    EXPECT_TRUE(ev & POLLIN);
  });
}

TEST(GreenIo, OutsideAFiberTheCallsAreLibc) {
  Pipe p;
  EXPECT_EQ(unclog::io::write(p.w, "ab", 2), 2);
  char buf[2];
  EXPECT_EQ(unclog::io::read(p.r, buf, 2), 2);
  errno = 0;
  EXPECT_EQ(unclog::io::read(p.r, buf, 1, 10ms), -1);
  EXPECT_EQ(errno, ETIMEDOUT);
}
