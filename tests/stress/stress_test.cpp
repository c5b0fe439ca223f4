// Stress: many fibers with timers, I/O deadlines and random cancellation; a
// long ping-pong through channels. Every wake-up must arrive (the hub would
// report a deadlock otherwise) and every count must add up. The default
// suite runs it small; `meson test --setup soak --suite soak` runs it at
// 100,000 fibers (UNCLOG_STRESS_SCALE=10).
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <random>
#include <vector>

#include "unclog/unclog.hpp"

using namespace std::chrono_literals;

namespace {

int scale() {
  const char* s = std::getenv("UNCLOG_STRESS_SCALE");
  int v = s ? std::atoi(s) : 1;
  return v > 0 ? v : 1;
}

// ThreadSanitizer tracks at most 8128 threads and fibers at once.
#if defined(__SANITIZE_THREAD__)
constexpr int kFibersPerScale = 4000;
#else
constexpr int kFibersPerScale = 10000;
#endif

}  // namespace

TEST(Stress, TimersIoAndRandomCancellation) {
  const int fibers = kFibersPerScale * scale();
  unclog::set_default_stack_size(16 * 1024);
  int pipe_fds[2];
  ASSERT_EQ(pipe2(pipe_fds, O_CLOEXEC), 0);
  int finished = 0, cancelled = 0, timed_out = 0;
  unclog::run([&] {
    std::mt19937 rng(42);
    std::vector<unclog::JoinHandle<void>> hs;
    hs.reserve(fibers);
    for (int i = 0; i < fibers; ++i) {
      const int kind = static_cast<int>(rng() % 3);
      const auto delay = std::chrono::milliseconds(rng() % 50);
      hs.push_back(unclog::spawn([&, kind, delay] {
        if (kind == 0) {
          unclog::sleep_for(delay);
          if (unclog::cancellation_requested()) ++cancelled;
        } else if (kind == 1) {
          char c;
          // Nobody writes: ends by deadline or by cancellation.
          if (unclog::io::read(pipe_fds[0], &c, 1, delay + 1ms) == -1) {
            if (errno == ETIMEDOUT) ++timed_out;
            else if (errno == ECANCELED) ++cancelled;
          }
        } else {
          for (int k = 0; k < 3; ++k) unclog::yield();
        }
        ++finished;
      }));
    }
    // Cancel a random third, some before they start, some while they wait.
    for (int i = 0; i < fibers / 3; ++i) {
      hs[rng() % hs.size()].cancel();
      if (i % 100 == 0) unclog::sleep_for(1ms);
    }
    for (auto& h : hs) h.join();
  });
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
  unclog::set_default_stack_size(256 * 1024);
  EXPECT_EQ(finished, fibers);
  EXPECT_GT(cancelled, 0);
  EXPECT_GT(timed_out, 0);
}

TEST(Stress, LongPingPongThroughChannels) {
  const int pairs = 200, rounds = 200 * scale();
  long total = 0;
  unclog::run([&] {
    std::vector<unclog::JoinHandle<long>> hs;
    for (int p = 0; p < pairs; ++p) {
      auto ping = std::make_shared<unclog::Channel<int>>(1);
      auto pong = std::make_shared<unclog::Channel<int>>(1);
      hs.push_back(unclog::spawn([ping, pong, rounds] {
        long sum = 0;
        for (int r = 0; r < rounds; ++r) {
          ping->send(r);
          sum += pong->receive().value();
        }
        ping->close();
        return sum;
      }));
      unclog::spawn([ping, pong] {
        while (auto v = ping->receive()) pong->send(*v + 1);
      }).detach();
    }
    for (auto& h : hs) total += h.join();
  });
  const long per_pair = static_cast<long>(rounds) * (rounds + 1) / 2;
  EXPECT_EQ(total, per_pair * pairs);
}

TEST(Stress, ManyShortHubs) {
  // EXPECT_NO_BLOCKING makes a hub per statement: setting one up and tearing
  // it down (io_uring, stacks, the watchdog's slot) must not leak or slow.
  unclog::hub_blocking_detection(true, 50ms);
  int sum = 0;
  for (int i = 0; i < 2000 * scale(); ++i) sum += unclog::run([i] { return i % 2; });
  unclog::hub_blocking_detection(false);
  EXPECT_EQ(sum, 1000 * scale());
}
