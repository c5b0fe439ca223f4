#include "loop_idle.hpp"

#include <atomic>
#include <string>
#include <string_view>

#include "calls.hpp"
#include "unclog/watch.hpp"
#include "watch/symbolize.hpp"

namespace unclog::calls {
namespace {

// Where event loops wait for work. Substrings of the (demangled) function
// that makes the wait call, at any of its inlined levels.
constexpr std::string_view kIdleWaiters[] = {
    "asio::detail::epoll_reactor::run",    // Boost.Asio / Asio: the reactor's epoll_wait
    "asio::detail::posix_event::wait",     // ... the scheduler's idle threads
    "asio::detail::io_uring_service::run", // ... the io_uring backend (newer Asio)
    "uv__io_poll",                         // libuv
    "epoll_dispatch",                      // libevent
    "g_main_context_poll",                 // GLib
};

bool names_idle_waiter(std::uintptr_t pc) {
  // Symbolizing may read debug information (tens of ms, on-CPU): our time,
  // not the step's. The scope keeps the watchdog away and restarts the
  // step's clock when it closes; InternalScope keeps our calls unreported.
  unclog::AllowBlocking ours("unclog judging a wait's call site");
  InternalScope internal;
  const std::uintptr_t call = pc - 1;  // inside the call instruction
  for (const auto& f : watch::symbolize(&call, 1)) {
    for (std::string_view w : kIdleWaiters) {
      if (f.function.find(w) != std::string::npos) return true;
    }
  }
  return false;
}

// Call sites already judged: open addressing, lock-free; a lost race only
// judges a site twice.
constexpr int kSlots = 512;
std::atomic<std::uintptr_t> g_sites[kSlots];
std::atomic<std::uint8_t> g_verdicts[kSlots];  // 1 idle wait, 2 not

}  // namespace

bool is_loop_idle_wait(std::uintptr_t pc) noexcept {
  const std::size_t h = (pc >> 4) * 0x9E3779B97F4A7C15ull >> 55;  // 9 bits
  for (int probe = 0; probe < 8; ++probe) {
    const std::size_t i = (h + probe) % kSlots;
    const std::uintptr_t site = g_sites[i].load(std::memory_order_acquire);
    if (site == pc) {
      const std::uint8_t v = g_verdicts[i].load(std::memory_order_acquire);
      if (v) return v == 1;
      break;  // being judged by another thread: judge it here too
    }
    if (site == 0) {
      std::uintptr_t expected = 0;
      if (!g_sites[i].compare_exchange_strong(expected, pc, std::memory_order_acq_rel) && expected != pc) continue;
      bool idle = false;
      try {
        idle = names_idle_waiter(pc);
      } catch (...) {
      }
      g_verdicts[i].store(idle ? 1 : 2, std::memory_order_release);
      return idle;
    }
  }
  try {
    return names_idle_waiter(pc);  // the table is full around here
  } catch (...) {
    return false;
  }
}

}  // namespace unclog::calls
