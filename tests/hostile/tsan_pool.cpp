// Four Asio threads, their handlers tracked (unclog-asio), meet unclog's
// lazily made state (the watchdog's registry, the notices) for the first
// time together.
// check_tsan_quiet.py runs it built with -fsanitize=thread: no warning.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio.hpp>
#include <thread>
#include <vector>

TEST(TsanPool, FourThreadsFirstUseTogether) {
  boost::asio::io_context io;
  std::atomic<int> done{0};
  auto guard = boost::asio::make_work_guard(io);
  std::vector<std::thread> pool;
  for (int t = 0; t < 4; ++t) pool.emplace_back([&] { io.run(); });
  for (int i = 0; i < 2000; ++i) boost::asio::post(io, [&] { done++; });
  while (done.load() < 2000) usleep(1000);
  guard.reset();
  for (auto& t : pool) t.join();
  EXPECT_EQ(done.load(), 2000);
}
