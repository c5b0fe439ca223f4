#include "chat.hpp"

#include <pwd.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <stdexcept>

namespace chat {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// The server's audit log. The blocking version "makes sure" each line is on
// disk before going on: a sleep standing in for a slow synchronous write.
void audit(const std::string& line, bool blocking) {
  if (blocking) usleep(2000 + line.size());  // a synchronous write to a slow disk
}

// The client's display name.
std::string display_name(const std::string& fallback, bool look_up_user) {
  if (!look_up_user) return fallback;
  const passwd* pw = getpwuid(getuid());  // NSS: may ask LDAP, sssd, NIS
  return pw ? fallback + "(" + pw->pw_name + ")" : fallback;
}

}  // namespace

struct Server::Session : std::enable_shared_from_this<Session> {
  explicit Session(tcp::socket s) : socket(std::move(s)) {}
  tcp::socket socket;
  asio::streambuf in;
};

Server::Server(asio::io_context& io, const Options& options)
    : acceptor_(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0)), options_(options) {
  accept();
}

unsigned short Server::port() const { return acceptor_.local_endpoint().port(); }

void Server::stop() {
  acceptor_.close();
  for (auto& w : sessions_) {
    if (auto s = w.lock()) s->socket.close();
  }
}

void Server::accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
    if (ec) return;
    auto session = std::make_shared<Session>(std::move(socket));
    sessions_.push_back(session);
    // Everyone hears how many are in the room.
    relay(nullptr, "joined " + std::to_string(sessions_.size()) + "\n");
    read_lines(session);
    accept();
  });
}

void Server::read_lines(const std::shared_ptr<Session>& session) {
  asio::async_read_until(session->socket, session->in, '\n', [this, session](boost::system::error_code ec, std::size_t n) {
    if (ec) return;
    std::string line(asio::buffers_begin(session->in.data()), asio::buffers_begin(session->in.data()) + n);
    session->in.consume(n);
    audit(line, options_.blocking_audit);
    relay(session, line);
    read_lines(session);
  });
}

void Server::relay(const std::shared_ptr<Session>& from, const std::string& line) {
  if (from) ++relayed_;
  for (auto& w : sessions_) {
    auto to = w.lock();
    if (!to || to == from) continue;
    auto text = std::make_shared<std::string>(line);
    asio::async_write(to->socket, asio::buffer(*text), [to, text](boost::system::error_code, std::size_t) {});
  }
}

asio::awaitable<std::vector<std::string>> client(unsigned short port, std::string name, int expect, Options options) {
  auto executor = co_await asio::this_coro::executor;
  tcp::socket socket(executor);
  co_await socket.async_connect(tcp::endpoint(asio::ip::address_v4::loopback(), port), asio::use_awaitable);
  asio::streambuf in;
  auto read_line = [&]() -> asio::awaitable<std::string> {
    const std::size_t n = co_await asio::async_read_until(socket, in, '\n', asio::use_awaitable);
    std::string line(asio::buffers_begin(in.data()), asio::buffers_begin(in.data()) + n - 1);
    in.consume(n);
    co_return line;
  };
  // Wait until the room is full: "joined N" lines count the arrivals.
  for (;;) {
    const std::string line = co_await read_line();
    if (line == "joined " + std::to_string(expect + 1)) break;
  }
  const std::string text = display_name(name, options.blocking_user_lookup) + ": hello\n";
  co_await asio::async_write(socket, asio::buffer(text), asio::use_awaitable);
  std::vector<std::string> heard;
  while (static_cast<int>(heard.size()) < expect) heard.push_back(co_await read_line());
  co_return heard;
}

std::vector<std::vector<std::string>> run_chat(int clients, const Options& options) {
  asio::io_context io;
  Server server(io, options);
  std::vector<std::vector<std::string>> heard(clients);
  int done = 0;
  for (int i = 0; i < clients; ++i) {
    asio::co_spawn(io, client(server.port(), "client-" + std::to_string(i), clients - 1, options),
                   [&, i](std::exception_ptr e, std::vector<std::string> lines) {
                     if (e) std::rethrow_exception(e);
                     heard[i] = std::move(lines);
                     if (++done == clients) server.stop();
                   });
  }
  io.run();
  return heard;
}

}  // namespace chat
