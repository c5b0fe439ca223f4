// Fiber synchronisation: mutex hand-off, events, bounded channels.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "unclog/hub.hpp"
#include "unclog/sync.hpp"

using namespace std::chrono_literals;

TEST(Sync, MutexSerializesAcrossSuspensionPoints) {
  unclog::Mutex m;
  int inside = 0, max_inside = 0, total = 0;
  unclog::run([&] {
    std::vector<unclog::JoinHandle<void>> hs;
    for (int i = 0; i < 10; ++i) {
      hs.push_back(unclog::spawn([&] {
        for (int k = 0; k < 5; ++k) {
          m.lock();
          max_inside = std::max(max_inside, ++inside);
          unclog::yield();
          ++total;
          --inside;
          m.unlock();
        }
      }));
    }
    for (auto& h : hs) h.join();
  });
  EXPECT_EQ(max_inside, 1);
  EXPECT_EQ(total, 50);
}

TEST(Sync, MutexHandsOffInFifoOrder) {
  unclog::Mutex m;
  std::vector<int> order;
  unclog::run([&] {
    m.lock();
    std::vector<unclog::JoinHandle<void>> hs;
    for (int i = 0; i < 4; ++i) hs.push_back(unclog::spawn([&, i] {
      m.lock();
      order.push_back(i);
      m.unlock();
    }));
    unclog::yield();  // everyone queues
    m.unlock();
    EXPECT_FALSE(m.try_lock());  // handed to the first waiter, not free
    for (auto& h : hs) h.join();
    EXPECT_TRUE(m.try_lock());
  });
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
}

TEST(Sync, EventWakesEveryWaiter) {
  unclog::Event ev;
  int woke = 0;
  unclog::run([&] {
    for (int i = 0; i < 5; ++i) unclog::spawn([&] {
        ev.wait();
        ++woke;
      }).detach();
    unclog::sleep_for(2ms);
    EXPECT_EQ(woke, 0);
    ev.set();
  });
  EXPECT_EQ(woke, 5);
  EXPECT_TRUE(ev.is_set());
}

TEST(Sync, FullChannelSuspendsTheSender) {
  unclog::Channel<int> ch(2);
  std::vector<std::string> log;
  unclog::run([&] {
    auto sender = unclog::spawn([&] {
      for (int i = 0; i < 4; ++i) {
        ch.send(i);
        log.push_back("sent " + std::to_string(i));
      }
      ch.close();
    });
    unclog::yield();
    unclog::yield();
    // Capacity 2: the sender is parked on its third send.
    EXPECT_EQ(log.size(), 2u);
    EXPECT_EQ(ch.size(), 2u);
    std::vector<int> got;
    while (auto v = ch.receive()) got.push_back(*v);
    EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3}));
    sender.join();
  });
  EXPECT_EQ(log.size(), 4u);
}

TEST(Sync, ClosedChannelRefusesSendsAndDrains) {
  unclog::run([] {
    unclog::Channel<std::string> ch(4);
    EXPECT_TRUE(ch.send("a"));
    ch.close();
    std::string b = "b";
    EXPECT_FALSE(ch.send(b));
    EXPECT_EQ(b, "b");
    EXPECT_EQ(ch.receive().value(), "a");
    EXPECT_FALSE(ch.receive().has_value());
  });
}

TEST(Sync, WorkQueueWithManyWorkers) {
  unclog::Channel<int> jobs(3);
  int sum = 0;
  unclog::run([&] {
    std::vector<unclog::JoinHandle<void>> workers;
    for (int w = 0; w < 4; ++w) workers.push_back(unclog::spawn([&] {
      while (auto j = jobs.receive()) {
        unclog::sleep_for(1ms);
        sum += *j;
      }
    }));
    for (int i = 1; i <= 100; ++i) jobs.send(i);
    jobs.close();
    for (auto& w : workers) w.join();
  });
  EXPECT_EQ(sum, 5050);
}

TEST(Sync, WaitingOutsideAFiberIsALogicError) {
  unclog::Event ev;
  EXPECT_THROW(ev.wait(), std::logic_error);
}
