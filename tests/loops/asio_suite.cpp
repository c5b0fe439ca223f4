// Boost.Asio without the unclog-asio flag: its reactor's waits are
// recognized by name, and each batch of handlers between two is a step.
#include <utility>  // Boost 1.74's awaitable.hpp needs it first under C++20

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "loop_cases.hpp"

using loop_cases::Case;

namespace {

Case g_case;

void on_timer() {
  switch (g_case) {
    case Case::sleep: usleep(80000); break;  // SLEEP
    case Case::spin: loop_cases::burn_cpu_ms(80); break;  // SPIN
    case Case::call: loop_cases::read_ready_pipe(); break;  // CALL
    case Case::clean: break;
  }
}

void run_asio(Case c) {
  g_case = c;
  boost::asio::io_context io;
  boost::asio::steady_timer work(io, std::chrono::milliseconds(10));
  boost::asio::steady_timer end(io, std::chrono::milliseconds(c == Case::clean ? 150 : 30));
  work.async_wait([](const boost::system::error_code&) { on_timer(); });
  end.async_wait([](const boost::system::error_code&) {});
  io.run();
}

}  // namespace

LOOP_CASE_TESTS(Asio, run_asio)

// An echo server on an io_context run by a pool of four threads, with 200
// clients on the same io_context: Asio's own reactor and scheduler locks
// are contended between the pool's threads all along. They are Asio's, not
// the test's (watch/call_report.cpp), and judging them must not hold those
// locks: a thread entering pthread_cond_wait holds the scheduler's
// (watch/deferred_steps.hpp). tests/loops/check_loops.py runs it 20 times.
namespace {

using boost::asio::ip::tcp;

struct EchoSession : std::enable_shared_from_this<EchoSession> {
  explicit EchoSession(tcp::socket s) : socket(std::move(s)) {}
  void read() {
    socket.async_read_some(boost::asio::buffer(buf), [self = shared_from_this()](auto ec, std::size_t n) {
      if (!ec) self->write(n);
    });
  }
  void write(std::size_t n) {
    boost::asio::async_write(socket, boost::asio::buffer(buf, n),
                             [self = shared_from_this()](auto ec, std::size_t) {
                               if (!ec) self->read();
                             });
  }
  tcp::socket socket;
  std::array<char, 64> buf{};
};

struct EchoClient : std::enable_shared_from_this<EchoClient> {
  EchoClient(boost::asio::io_context& io, std::atomic<int>& done) : socket(io), done(done) {}
  void start(unsigned short port) {
    socket.async_connect({boost::asio::ip::address_v4::loopback(), port}, [self = shared_from_this()](auto ec) {
      if (!ec) self->send();
    });
  }
  void send() {
    boost::asio::async_write(socket, boost::asio::buffer(out), [self = shared_from_this()](auto ec, std::size_t) {
      if (!ec) self->receive();
    });
  }
  void receive() {
    boost::asio::async_read(socket, boost::asio::buffer(in), [self = shared_from_this()](auto ec, std::size_t) {
      if (ec) return;
      if (--self->rounds > 0) return self->send();
      self->done.fetch_add(1);
      self->socket.close();
    });
  }
  tcp::socket socket;
  std::atomic<int>& done;
  std::array<char, 32> out{}, in{};
  int rounds = 5;
};

}  // namespace

TEST(AsioPool, EchoServerOnFourThreadsIsQuiet) {
  constexpr int kClients = 200;
  boost::asio::io_context io;
  tcp::acceptor acceptor(io, {boost::asio::ip::address_v4::loopback(), 0});
  std::function<void()> accept = [&] {
    acceptor.async_accept([&](auto ec, tcp::socket s) {
      if (ec) return;
      std::make_shared<EchoSession>(std::move(s))->read();
      accept();
    });
  };
  accept();
  std::atomic<int> done{0};
  for (int i = 0; i < kClients; ++i) std::make_shared<EchoClient>(io, done)->start(acceptor.local_endpoint().port());
  // Ends when the last client is done: the acceptor's pending accept is
  // cancelled, the sessions see end of file.
  boost::asio::steady_timer closer(io);
  std::function<void()> check = [&] {
    closer.expires_after(std::chrono::milliseconds(5));
    closer.async_wait([&](auto) {
      if (done.load() == kClients) return acceptor.close();
      check();
    });
  };
  check();
  std::vector<std::thread> pool;
  for (int t = 0; t < 4; ++t) pool.emplace_back([&] { io.run(); });
  for (auto& t : pool) t.join();
  EXPECT_EQ(done.load(), kClients);
}

// A handler posted before io.run() writes 1 MiB synchronously to a socket
// pair whose reader starts 150 ms later: Asio's write blocks in the kernel
// in io.run()'s first pass, before any reactor wait. check_loops.py runs it
// in call mode and in time mode; both fail it at its line.
TEST(AsioWrite, BlockingWriteBeforeTheFirstWait) {
  using boost::asio::local::stream_protocol;
  boost::asio::io_context io;
  stream_protocol::socket a(io), b(io);
  boost::asio::local::connect_pair(a, b);
  std::vector<char> out(1 << 20);
  boost::asio::post(io, [&] {
    boost::asio::write(a, boost::asio::buffer(out));  // WRITE
  });
  std::thread reader([&] {
    usleep(150000);
    std::vector<char> in(out.size());
    boost::asio::read(b, boost::asio::buffer(in));
  });
  io.run();
  reader.join();
}
