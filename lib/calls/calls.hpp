// Call mode: libc entry points that can block, interposed (the system
// calls of watched steps are trapped too: trap.hpp). While a watched
// step runs on this thread (and call mode is on, and no AllowBlocking scope
// is open), each call that can block records a `call` report with the stack
// where it was made, then does exactly what libc does. Everywhere else
// (unwatched threads, between steps, static initialisation) a call costs
// two thread-local loads, their branches and a jump on top of libc's (no
// frame where the function does nothing else there: UNCLOG_INTERPOSE).
//
// The real functions are found with dlsym(RTLD_NEXT) while the library
// loads (never in a call, which may be in a signal handler); errno is
// preserved across our checks.
#pragma once
#include <cstdint>

namespace unclog::calls {

// Our own code that must make such calls on a watched thread (the epoll
// backend's non-blocking attempts) opens one of these around them: they are
// neither reported nor trapped.
class InternalScope {
 public:
  InternalScope() noexcept;
  ~InternalScope();
  InternalScope(const InternalScope&) = delete;
  InternalScope& operator=(const InternalScope&) = delete;

 private:
  std::uint8_t selector_;
};

}  // namespace unclog::calls
