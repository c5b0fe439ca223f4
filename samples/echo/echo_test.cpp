// UNCLOG_TESTs of the echo server: clients and server are fibers of one hub.
#include <gtest/gtest-spi.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "echo_server.hpp"
#include "unclog/gtest.hpp"

namespace {

void echo_client(const sockaddr_in& addr, int rounds) {
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(unclog::io::connect(s, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
  for (int r = 0; r < rounds; ++r) {
    std::string msg = "ping " + std::to_string(r);
    ASSERT_EQ(unclog::io::send(s, msg.data(), msg.size(), 0), static_cast<ssize_t>(msg.size()));
    std::string back(msg.size(), '\0');
    std::size_t got = 0;
    while (got < back.size()) {
      ssize_t n = unclog::io::recv(s, back.data() + got, back.size() - got, 0, std::chrono::seconds(5));
      ASSERT_GT(n, 0);
      got += static_cast<std::size_t>(n);
    }
    EXPECT_EQ(back, msg);
  }
  unclog::io::close(s);
}

}  // namespace

UNCLOG_TEST(Echo, ManyClientsNoBlocking) {
  sockaddr_in addr;
  int lfd = echo::listen_loopback(addr);
  constexpr int kClients = 16;
  auto server = unclog::spawn({.name = "echo-server"}, [&] { echo::serve(lfd, kClients); });
  std::vector<unclog::JoinHandle<void>> clients;
  for (int i = 0; i < kClients; ++i) clients.push_back(unclog::spawn([&] { echo_client(addr, 50); }));
  for (auto& c : clients) c.join();
  server.join();
  ::close(lfd);
}

TEST(Echo, BlockingReplyIsReported) {
  ::testing::TestPartResultArray failures;
  {
    ::testing::ScopedFakeTestPartResultReporter capture(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &failures);
    EXPECT_NO_BLOCKING({
      sockaddr_in addr;
      int lfd = echo::listen_loopback(addr);
      auto server = unclog::spawn({.name = "echo-server"}, [&] { echo::serve(lfd, 1, /*blocking_bug=*/true); });
      echo_client(addr, 2);
      server.join();
      ::close(lfd);
    });
  }
  ASSERT_EQ(failures.size(), 2);  // one per blocking reply
  for (int i = 0; i < failures.size(); ++i) {
    std::string msg = failures.GetTestPartResult(i).message();
    EXPECT_NE(msg.find("slow_reply"), std::string::npos) << msg;
    EXPECT_NE(msg.find("fiber \"echo-0\""), std::string::npos) << msg;
  }
}
