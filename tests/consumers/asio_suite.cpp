// The suite of the consumers built with the unclog-asio package: Asio's
// headers in the order Asio's own C++20 examples use (co_spawn.hpp first),
// compiled as C++17 and C++20. A handler that blocks fails its plain TEST at
// the marked line; quiet handlers, in a plain TEST and an UNCLOG_TEST, pass.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio.hpp>
#include <gmock/gmock.h>
#include <unclog/gtest.hpp>
#include <unistd.h>

void slow_handler_work() {
  usleep(1000);  // CONSUMER-BLOCKING-LINE
}

TEST(Consumer, BlockingCallFails) {
  boost::asio::io_context io;
  boost::asio::post(io, [] { slow_handler_work(); });
  io.run();
}

TEST(Consumer, QuietPasses) {
  boost::asio::io_context io;
  int ran = 0;
  boost::asio::post(io, [&] { ++ran; });
  EXPECT_NO_BLOCKING(io.run());
  EXPECT_THAT(ran, ::testing::Eq(1));
}

UNCLOG_TEST(Consumer, QuietUnclogTestPasses) {
  boost::asio::io_context io;
  boost::asio::steady_timer timer(io, std::chrono::milliseconds(1));
  bool fired = false;
  timer.async_wait([&](const boost::system::error_code&) { fired = true; });
  io.run();
  unclog::yield();
  EXPECT_TRUE(fired);
}
