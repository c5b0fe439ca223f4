// Boost.Asio under our gtest main: a blocking handler fails the test it ran
// in, at the handler's line, in plain TEST bodies (the user opted in by
// compiling with unclog-asio's flag), inside EXPECT_NO_BLOCKING(io.run())
// and in UNCLOG_TEST; the reactor's waits fail nothing.
#include <unistd.h>

#include <boost/asio.hpp>
#include <gtest/gtest-spi.h>

#include "unclog/gtest.hpp"

using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

void read_config() {
  usleep(1000);  // the blocking line
}

void run_blocking_handler() {
  asio::io_context io;
  asio::post(io, [] { read_config(); });
  io.run();
}

void run_quiet_timers() {
  asio::io_context io;
  asio::steady_timer t1(io, 80ms), t2(io, 160ms);
  t1.async_wait([](boost::system::error_code) {});
  t2.async_wait([](boost::system::error_code) {});
  io.run();
}

}  // namespace

TEST(AsioUnderOurMain, BlockingHandlerInAPlainTestFailsIt) {
  EXPECT_NONFATAL_FAILURE(run_blocking_handler(), "asio handler");
  EXPECT_NONFATAL_FAILURE(run_blocking_handler(), "asio_gtest_test.cpp:18");
}

TEST(AsioUnderOurMain, ExpectNoBlockingOfRunWatchesHandlersNotWaits) {
  EXPECT_NO_BLOCKING(run_quiet_timers());
  EXPECT_NONFATAL_FAILURE(EXPECT_NO_BLOCKING(run_blocking_handler()), "usleep");
}

UNCLOG_TEST(AsioUnderOurMain, RunInAnUnclogTestBody) { run_quiet_timers(); }
