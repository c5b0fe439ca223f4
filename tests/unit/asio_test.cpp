// Boost.Asio with unclog's handler tracking (this file is compiled with
// unclog-asio's flag): every handler invocation is a watched step, caught at
// its line in call mode and time mode, on any thread; the reactor's own
// waits are never reported; nothing is watched while detection is off.
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <iterator>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "call_mode_fixture.hpp"
#include "unclog/unclog.hpp"

using namespace std::chrono_literals;
using ::testing::HasSubstr;
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

class Asio : public CallMode {
 protected:
  // Time mode alone, at a resolution a 150 ms stall clears with margin.
  void time_mode() {
    unclog::set_call_detection(false);
    unclog::hub_blocking_detection(true, 50ms);
  }
  unclog::BlockingReport only_report() {
    auto rs = take();
    EXPECT_EQ(rs.size(), 1u);
    for (std::size_t i = 1; i < rs.size(); ++i) ADD_FAILURE() << "extra report: " << rs[i].text();
    return rs.empty() ? unclog::BlockingReport{} : rs[0];
  }
  void expect_quiet() {
    auto rs = take();
    for (const auto& r : rs) ADD_FAILURE() << "unexpected report: " << r.text();
  }
};

int g_line = 0;
void blocking_call() {
  g_line = __LINE__; usleep(1000);
}
void blocking_stall() {
  g_line = __LINE__; usleep(150000);
}

// A connected pair of loopback TCP sockets on `io`.
std::pair<tcp::socket, tcp::socket> connected(asio::io_context& io) {
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  tcp::socket client(io), server(io);
  client.connect(acceptor.local_endpoint());
  acceptor.accept(server);
  return {std::move(client), std::move(server)};
}

}  // namespace

TEST_F(Asio, OffUntilTurnedOn) {
  unclog::hub_blocking_detection(false);
  asio::io_context io;
  asio::post(io, [] { blocking_stall(); });
  io.run();
  expect_quiet();
}

TEST_F(Asio, PostedHandlerCallIsCaughtAtItsLine) {
  asio::io_context io;
  asio::post(io, [] { blocking_call(); });
  io.run();
  const auto r = only_report();
  EXPECT_EQ(r.kind, unclog::StallKind::call);
  EXPECT_EQ(r.runner, "asio handler");
  EXPECT_THAT(r.fiber, HasSubstr("io_context."));
  EXPECT_EQ(r.line, g_line) << r.text();
  EXPECT_THAT(r.text(), HasSubstr("blocking: asio handler \"io_context."));
}

TEST_F(Asio, TimerHandlerStallIsCaughtInTimeMode) {
  time_mode();
  asio::io_context io;
  asio::steady_timer timer(io, 1ms);
  timer.async_wait([](boost::system::error_code) { blocking_stall(); });
  io.run();
  const auto r = only_report();
  EXPECT_EQ(r.kind, unclog::StallKind::blocked) << r.text();
  EXPECT_THAT(r.fiber, HasSubstr("async_wait"));
  EXPECT_EQ(r.line, g_line) << r.text();
  EXPECT_THAT(r.text(), HasSubstr("held the loop for"));
}

TEST_F(Asio, SocketReadHandlerIsLabelledWithItsOperation) {
  asio::io_context io;
  auto sockets = connected(io);  // (clang 14 cannot capture structured bindings)
  auto& client = sockets.first;
  auto& server = sockets.second;
  char buf[4];
  server.async_read_some(asio::buffer(buf), [](boost::system::error_code, std::size_t) { blocking_call(); });
  asio::write(client, asio::buffer("ping", 4));
  take();  // the blocking connect/accept/write above ran outside any step: nothing to see
  io.run();
  const auto r = only_report();
  EXPECT_THAT(r.fiber, HasSubstr("socket.async_receive"));
  EXPECT_EQ(r.line, g_line) << r.text();
}

TEST_F(Asio, StrandAndDispatchAndDefer) {
  asio::io_context io;
  auto strand = asio::make_strand(io);
  asio::post(strand, [] { blocking_call(); });
  io.run();
  EXPECT_EQ(only_report().line, g_line);
  io.restart();
  asio::post(io, [&] { asio::dispatch(io, [] { blocking_call(); }); });  // inline: part of the outer step
  io.run();
  EXPECT_EQ(only_report().line, g_line);
  io.restart();
  asio::defer(io, [] { blocking_call(); });
  io.run();
  EXPECT_EQ(only_report().line, g_line);
}

TEST_F(Asio, HandlersOnAFourThreadPool) {
  asio::thread_pool pool(4);
  std::atomic<int> ran{0};
  for (int i = 0; i < 8; ++i) {
    asio::post(pool, [&] {
      blocking_call();
      ran++;
    });
  }
  pool.join();
  EXPECT_EQ(ran.load(), 8);
  auto rs = take();
  EXPECT_EQ(rs.size(), 8u);
  for (const auto& r : rs) {
    EXPECT_EQ(r.line, g_line) << r.text();
    EXPECT_EQ(r.runner, "asio handler");
  }
}

#if defined(BOOST_ASIO_HAS_CO_AWAIT)  // Boost 1.74 enables it for GCC only
TEST_F(Asio, CoroutineResumptionsAreSteps) {
  asio::io_context io;
  int line = 0;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer timer(co_await asio::this_coro::executor, 1ms);
        co_await timer.async_wait(asio::use_awaitable);
        line = __LINE__; usleep(1000);
      },
      asio::detached);
  io.run();
  const auto r = only_report();
  EXPECT_EQ(r.kind, unclog::StallKind::call);
  EXPECT_EQ(r.line, line) << r.text();
}
#endif

TEST_F(Asio, RealSocketTrafficIsQuiet) {
  asio::io_context io;
  auto sockets = connected(io);  // (clang 14 cannot capture structured bindings)
  auto& client = sockets.first;
  auto& server = sockets.second;
  take();
  int rounds = 0;
  char cbuf[16], sbuf[16];
  std::function<void()> client_round = [&] {
    asio::async_write(client, asio::buffer("hello", 5), [&](boost::system::error_code ec, std::size_t) {
      ASSERT_FALSE(ec);
      asio::async_read(client, asio::buffer(cbuf, 5), [&](boost::system::error_code ec2, std::size_t) {
        ASSERT_FALSE(ec2);
        if (++rounds < 200) client_round(); else server.close();
      });
    });
  };
  std::function<void()> server_round = [&] {
    asio::async_read(server, asio::buffer(sbuf, 5), [&](boost::system::error_code ec, std::size_t) {
      if (ec) return;
      asio::async_write(server, asio::buffer(sbuf, 5), [&](boost::system::error_code, std::size_t) { server_round(); });
    });
  };
  server_round();
  client_round();
  io.run();
  EXPECT_EQ(rounds, 200);
  expect_quiet();
}

TEST_F(Asio, AHandlerThatThrowsEndsItsStep) {
  asio::io_context io;
  asio::post(io, [] { throw std::runtime_error("from a handler"); });
  EXPECT_THROW(io.run(), std::runtime_error);
  expect_quiet();
  io.restart();
  asio::post(io, [] { blocking_call(); });
  io.run();
  EXPECT_EQ(only_report().line, g_line) << "the next handler is a step of its own";
}

TEST_F(Asio, NestedRunIsPartOfTheOuterStep) {
  asio::io_context outer, inner;
  asio::post(inner, [] { blocking_call(); });
  asio::post(outer, [&] { inner.run(); });
  outer.run();
  const auto r = only_report();
  EXPECT_EQ(r.line, g_line);
}

TEST_F(Asio, RunInsideAHubStepReportsHandlersNotTheReactorsWaits) {
  for (bool time : {false, true}) {
    SCOPED_TRACE(time ? "time mode" : "call mode");
    if (time) time_mode();
    asio::io_context io;
    unclog::run([&] {
      asio::steady_timer t1(io, 100ms), t2(io, 200ms);  // the reactor waits 100 ms, twice
      t1.async_wait([](boost::system::error_code) {});
      t2.async_wait([](boost::system::error_code) {});
      io.run();
    });
    expect_quiet();
    io.restart();
    unclog::run([&] {
      asio::steady_timer t(io, 60ms);
      // A handler each: clang merges two calls of one handler into one call
      // of usleep whose line is 0.
      if (time) {
        t.async_wait([](boost::system::error_code) { blocking_stall(); });
      } else {
        t.async_wait([](boost::system::error_code) { blocking_call(); });
      }
      io.run();
    });
    const auto r = only_report();
    EXPECT_EQ(r.line, g_line) << r.text();
    EXPECT_EQ(r.kind, time ? unclog::StallKind::blocked : unclog::StallKind::call) << r.text();
  }
}

TEST_F(Asio, HandlersAreOnTheTimeline) {
  const std::string path = ::testing::TempDir() + "unclog_asio_trace_" + std::to_string(getpid()) + ".json";
  ASSERT_TRUE(unclog::set_trace_file(path));
  asio::io_context io;
  asio::post(io, [] {});
  asio::post(io, [] { blocking_call(); });  // the report flushes the ring
  io.run();
  ASSERT_TRUE(unclog::set_trace_file(""));
  take();
  std::ifstream in(path);
  const std::string trace((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ::unlink(path.c_str());
  EXPECT_EQ(trace.rfind("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[", 0), 0u);
  EXPECT_NE(trace.find("\n]}\n"), std::string::npos) << "closed: valid JSON";
  EXPECT_NE(trace.find("\"asio handlers (thread "), std::string::npos) << trace;
  EXPECT_NE(trace.find("\"name\":\"io_context.execute\""), std::string::npos) << trace;
  EXPECT_NE(trace.find("\"name\":\"blocking (call)\""), std::string::npos) << trace;
}

// A lock another thread holds: the remedy in Asio's idiom is a strand, never
// an I/O call.
TEST_F(Asio, ContendedLockHintSuggestsAStrand) {
  std::mutex mu;
  std::atomic<bool> held{false}, locking{false};
  std::thread holder([&] {  // held from before the handler until after it has begun to lock
    std::lock_guard lk(mu);
    held = true;
    while (!locking) std::this_thread::yield();
    std::this_thread::sleep_for(20ms);
  });
  while (!held) std::this_thread::yield();
  asio::io_context io;
  asio::post(io, [&] {
    locking = true;
    std::lock_guard lk(mu);
  });
  io.run();
  holder.join();
  const auto r = only_report();
  EXPECT_THAT(r.call, HasSubstr("pthread_mutex_lock")) << r.text();
  EXPECT_THAT(r.hint, HasSubstr("strand")) << r.text();
  EXPECT_THAT(r.hint, ::testing::Not(HasSubstr("async_read"))) << r.text();
}
