// Boost.Asio without the unclog-asio flag: its reactor's waits are
// recognized by name, and each batch of handlers between two is a step.
#include <utility>  // Boost 1.74's awaitable.hpp needs it first under C++20

#include <boost/asio.hpp>

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
