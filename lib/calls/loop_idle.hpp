// Event loops' own waits for work (Boost.Asio's reactor and scheduler,
// libuv, libevent, GLib) are neither blocking calls nor step time: the
// interposed wait functions (epoll_wait, poll, pthread_cond_wait, ...) ask
// this about their caller and, for such a loop, wait inside an
// AllowBlocking scope, after which the step's clock restarts. This is what
// lets EXPECT_NO_BLOCKING(io.run()) watch the handlers and not the waits.
//
// The caller is recognized by name (symbolized once per call site with its
// inlined levels, then cached), so loops compiled into the user's code need
// line tables (-g, which our packages add). Thread-safe; not for signal
// handlers.
#pragma once
#include <cstdint>

namespace unclog::calls {

bool is_loop_idle_wait(std::uintptr_t return_address) noexcept;

}  // namespace unclog::calls
