// A small Boost.Asio chat, written the way people write them: the server
// with completion handlers, the client as a C++20 coroutine (co_spawn).
// Every line a client sends is broadcast to the other clients.
//
// Two blocking mistakes can be planted, for the demo and the tests: the
// server's audit log written with a blocking sleep-and-flush in a handler,
// and the client looking up its user name with getpwuid (NSS, which may go
// to LDAP or sssd) inside the coroutine.
#pragma once
#include <boost/asio.hpp>

#include <memory>
#include <string>
#include <vector>

namespace chat {

struct Options {
  bool blocking_audit = false;        // plant: the server's handler blocks
  bool blocking_user_lookup = false;  // plant: the client coroutine blocks
};

class Server {
 public:
  Server(boost::asio::io_context& io, const Options& options);
  unsigned short port() const;
  std::size_t lines_relayed() const { return relayed_; }
  void stop();

 private:
  struct Session;
  void accept();
  void read_lines(const std::shared_ptr<Session>& session);
  void relay(const std::shared_ptr<Session>& from, const std::string& line);

  boost::asio::ip::tcp::acceptor acceptor_;
  Options options_;
  std::vector<std::weak_ptr<Session>> sessions_;
  std::size_t relayed_ = 0;
};

// A client: connects, says `line` once `peers` other clients are there to
// hear it (it waits for a greeting line from the server), then reads
// `expect` lines from the others. Returns what it read.
boost::asio::awaitable<std::vector<std::string>> client(unsigned short port, std::string name, int expect,
                                                        Options options);

// Runs a server and `clients` clients on one io_context until every client
// has heard from every other. Returns the lines each client received.
std::vector<std::vector<std::string>> run_chat(int clients, const Options& options);

}  // namespace chat
