// The second demo: a Boost.Asio chat compiled with unclog-asio. Every
// handler, and every resumption of the client coroutines, is a watched
// step; the code is the chat's own, unchanged.
#include <cstdio>

#include "chat.hpp"
#include "unclog/unclog.hpp"

using namespace std::chrono_literals;

int main() {
  unclog::hub_blocking_detection(true, 50ms);  // reports go to stderr
  unclog::set_call_detection(true);            // catch blocking calls however short

  std::printf("== 1. clean chat: 3 clients, every handler non-blocking ==\n");
  std::fflush(stdout);
  chat::run_chat(3, {});
  std::printf("   no blocking reports\n\n");

  std::printf("== 2. the server writes its audit log synchronously, the clients look up their user ==\n\n");
  std::fflush(stdout);
  chat::run_chat(2, {.blocking_audit = true, .blocking_user_lookup = true});
  std::fflush(stderr);
  std::printf("\n   each report names the Asio operation whose handler blocked, and the line.\n");
  return 0;
}
