// The hub: run/spawn/join/yield/sleep_for, ordering, exceptions, deadlocks.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cfenv>

#include <chrono>
#include <stdexcept>
#include <string>
#include <atomic>
#include <thread>
#include <vector>

#include "unclog/hub.hpp"
#include "unclog/io.hpp"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(Hub, RunReturnsTheRootResult) {
  EXPECT_EQ(unclog::run([] { return 42; }), 42);
  EXPECT_EQ(unclog::run([] { return std::string("fiber"); }), "fiber");
}

TEST(Hub, RunRethrowsTheRootException) {
  EXPECT_THROW(unclog::run([]() -> int { throw std::runtime_error("boom"); }), std::runtime_error);
}

TEST(Hub, JoinReturnsTheFiberResult) {
  int r = unclog::run([] {
    auto h = unclog::spawn([] { return 7; });
    return h.join() * 6;
  });
  EXPECT_EQ(r, 42);
}

TEST(Hub, JoinRethrowsTheFiberException) {
  unclog::run([] {
    auto h = unclog::spawn([]() -> int { throw std::invalid_argument("bad"); });
    EXPECT_THROW(h.join(), std::invalid_argument);
    EXPECT_FALSE(h.joinable());
  });
}

TEST(Hub, DetachedFiberExceptionMakesRunThrowAfterTheHubDrains) {
  bool other_finished = false;
  EXPECT_THROW(unclog::run([&] {
                 unclog::spawn([] { throw std::out_of_range("detached"); }).detach();
                 unclog::spawn([&] {
                   unclog::sleep_for(20ms);
                   other_finished = true;
                 }).detach();
               }),
               std::out_of_range);
  EXPECT_TRUE(other_finished);
}

TEST(Hub, DroppedHandleOfAFailedFiberIsNotSwallowed) {
  EXPECT_THROW(unclog::run([] { (void)unclog::spawn([] { throw std::logic_error("dropped"); }); }),
               std::logic_error);
}

TEST(Hub, UnjoinedFailedFiberIsNotSwallowed) {
  EXPECT_THROW(unclog::run([] {
                 auto h = unclog::spawn([] { throw std::length_error("never joined"); });
                 unclog::yield();
                 unclog::yield();
                 return 0;  // h still holds the finished fiber when the root returns
               }),
               std::length_error);
}

TEST(Hub, RunWaitsForEveryFiber) {
  int done = 0;
  unclog::run([&] {
    for (int i = 0; i < 10; ++i) unclog::spawn([&] {
        unclog::sleep_for(5ms);
        ++done;
      }).detach();
  });
  EXPECT_EQ(done, 10);
}

TEST(Hub, RunQueueIsFifoAndYieldLetsOthersRun) {
  std::vector<std::string> order;
  unclog::run([&] {
    auto a = unclog::spawn([&] {
      order.push_back("a1");
      unclog::yield();
      order.push_back("a2");
    });
    auto b = unclog::spawn([&] {
      order.push_back("b1");
      unclog::yield();
      order.push_back("b2");
    });
    order.push_back("root");
    a.join();
    b.join();
  });
  EXPECT_EQ(order, (std::vector<std::string>{"root", "a1", "b1", "a2", "b2"}));
}

// Fibers that only yield run in one open-ended pass while the loop has
// nothing to do (hub.hpp): a fiber that then waits, on a timer or on I/O,
// must still be woken while the others go on yielding.
TEST(Hub, YieldingFibersLetASleeperWake) {
  std::atomic<bool> woke{false};
  bool seen_by_a = false, seen_by_b = false;
  unclog::run([&] {
    auto spinner = [&] {
      const auto give_up = Clock::now() + 5s;
      while (!woke && Clock::now() < give_up) unclog::yield();
      return woke.load();  // false: the sleeper only woke once the spinners gave up
    };
    auto a = unclog::spawn(spinner);
    auto b = unclog::spawn(spinner);
    auto sleeper = unclog::spawn([&] {
      for (int i = 0; i < 10; ++i) unclog::yield();  // the pass is open by now
      unclog::sleep_for(10ms);
      woke = true;
    });
    sleeper.join();
    seen_by_a = a.join();
    seen_by_b = b.join();
  });
  EXPECT_TRUE(seen_by_a);
  EXPECT_TRUE(seen_by_b);
}

TEST(Hub, YieldingFibersLetAReaderWake) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::atomic<bool> read_done{false};
  bool seen = false;
  std::thread writer([&] {
    std::this_thread::sleep_for(20ms);
    (void)!::write(fds[1], "x", 1);
  });
  unclog::run([&] {
    auto spinner = unclog::spawn([&] {
      const auto give_up = Clock::now() + 5s;
      while (!read_done && Clock::now() < give_up) unclog::yield();
      return read_done.load();
    });
    auto reader = unclog::spawn([&] {
      for (int i = 0; i < 10; ++i) unclog::yield();
      char c;
      read_done = unclog::io::read(fds[0], &c, 1) == 1;
    });
    reader.join();
    seen = spinner.join();
  });
  writer.join();
  close(fds[0]);
  close(fds[1]);
  EXPECT_TRUE(seen);
}

TEST(Hub, TimersFireInDeadlineOrderAndTiesInSetOrder) {
  std::vector<int> order;
  unclog::run([&] {
    const std::chrono::milliseconds delays[] = {30ms, 10ms, 20ms, 10ms};
    for (int i = 0; i < 4; ++i) {
      unclog::spawn([&, i, d = delays[i]] {
        unclog::sleep_for(d);
        order.push_back(i);
      }).detach();
    }
  });
  EXPECT_EQ(order, (std::vector<int>{1, 3, 2, 0}));
}

TEST(Hub, SleepNeverEndsEarly) {
  unclog::run([] {
    auto t0 = Clock::now();
    unclog::sleep_for(15ms);
    EXPECT_GE(Clock::now() - t0, 15ms);
  });
}

TEST(Hub, TenThousandSleepersFinishTogether) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "ThreadSanitizer tracks at most 8128 threads and fibers";
#endif
  const auto t0 = Clock::now();
  int done = 0;
  unclog::set_default_stack_size(32 * 1024);
  unclog::run([&] {
    for (int i = 0; i < 10000; ++i) unclog::spawn([&] {
        unclog::sleep_for(300ms);
        ++done;
      }).detach();
  });
  unclog::set_default_stack_size(256 * 1024);
  EXPECT_EQ(done, 10000);
  // Sequential sleeping would take 50 minutes; concurrent, about 300 ms.
  EXPECT_LT(Clock::now() - t0, 5s);
}

TEST(Hub, FibersCarryNames) {
  unclog::run([] {
    EXPECT_EQ(unclog::fiber_name(), "main");
    auto h = unclog::spawn({.name = "crawler-3"}, [] { return unclog::fiber_name(); });
    EXPECT_EQ(h.join(), "crawler-3");
    auto anon = unclog::spawn([] { return unclog::fiber_name(); });
    EXPECT_EQ(anon.join().rfind("fiber-", 0), 0u);
  });
  EXPECT_FALSE(unclog::in_fiber());
}

TEST(Hub, DeadlockIsAnErrorNotAHang) {
  try {
    // The root parks with nothing that could ever wake it. (Objects on a
    // deadlocked fiber's stack are not unwound, so this one holds none.)
    unclog::run([] { unclog::detail::park(); });
    FAIL() << "expected a deadlock error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("deadlock"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("\"main\""), std::string::npos) << e.what();
  }
}

TEST(Hub, NestedRunIsALogicError) {
  unclog::run([] { EXPECT_THROW(unclog::run([] {}), std::logic_error); });
}

TEST(Hub, SpawnOutsideAHubIsALogicError) { EXPECT_THROW(unclog::spawn([] {}), std::logic_error); }

TEST(Hub, CancelEndsASleepEarly) {
  unclog::run([] {
    auto t0 = Clock::now();
    auto h = unclog::spawn([] {
      unclog::sleep_for(10s);
      return unclog::cancellation_requested();
    });
    unclog::yield();
    h.cancel();
    EXPECT_TRUE(h.join());
    EXPECT_LT(Clock::now() - t0, 5s);
  });
}

// The rounding mode is callee-saved: a fiber that changes it and yields
// keeps it, and the others do not see it.
TEST(Hub, RoundingModeStaysWithItsFiber) {
  const int outside = std::fegetround();
  int seen_by_other = -1, kept_by_changer = -1, fresh_fiber = -1;
  unclog::run([&] {
    auto changer = unclog::spawn([&] {
      std::fesetround(FE_UPWARD);
      unclog::yield();
      unclog::yield();  // the other reads while this fiber is still upward
      kept_by_changer = std::fegetround();
      std::fesetround(FE_TONEAREST);
    });
    auto other = unclog::spawn([&] {
      unclog::yield();  // after the changer's fesetround
      seen_by_other = std::fegetround();
      unclog::spawn([&] { fresh_fiber = std::fegetround(); }).join();
    });
    changer.join();
    other.join();
  });
  EXPECT_EQ(kept_by_changer, FE_UPWARD);
  EXPECT_EQ(seen_by_other, FE_TONEAREST);
  EXPECT_EQ(fresh_fiber, FE_TONEAREST);
  EXPECT_EQ(std::fegetround(), outside);
}

TEST(Hub, SmallStacksWork) {
  unclog::run([] {
    auto h = unclog::spawn({.name = "tiny", .stack_size = 16 * 1024}, [] {
      char buf[4096];
      buf[0] = 1;
      buf[4095] = 2;
      return buf[0] + buf[4095];
    });
    EXPECT_EQ(h.join(), 3);
  });
}

TEST(Hub, HubsOnSeveralThreadsAreIndependent) {
  std::vector<std::thread> threads;
  std::atomic<int> total{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      total += unclog::run([] {
        int sum = 0;
        std::vector<unclog::JoinHandle<int>> hs;
        for (int i = 0; i < 100; ++i) hs.push_back(unclog::spawn([i] {
          unclog::yield();
          return i;
        }));
        for (auto& h : hs) sum += h.join();
        return sum;
      });
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(total.load(), 4 * 4950);
}
