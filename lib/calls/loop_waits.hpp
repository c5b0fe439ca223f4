// How call mode learns that a wait is an event loop's: lib/loops registers
// a hook when libunclog loads (as watch registers trap arming), so calls
// needs nothing of loops. A loop's wait is a step boundary, never a
// blocking call.
//
// Thread-safety: the hook is set once, before main; begin/end run on the
// waiting thread. Not for signal handlers.
#pragma once
#include <atomic>
#include <cstdint>

namespace unclog::calls {

// Room for the loops layer's scope object, ended when the wait returns.
class LoopWaitScope {
 public:
  LoopWaitScope() = default;
  ~LoopWaitScope() {
    if (end) end(storage);
  }
  LoopWaitScope(const LoopWaitScope&) = delete;
  LoopWaitScope& operator=(const LoopWaitScope&) = delete;

  alignas(16) unsigned char storage[96];
  void (*end)(unsigned char* storage) = nullptr;
};

// Whether the wait that returns to `return_address` is a loop's (`fd_wait`:
// poll, epoll, select; else a condition wait); if so the hook has begun
// `scope`. Null until lib/loops registers.
using LoopWaitHook = bool (*)(std::uintptr_t return_address, bool fd_wait, LoopWaitScope& scope) noexcept;
extern std::atomic<LoopWaitHook> g_loop_wait_hook;

inline bool begin_loop_wait(std::uintptr_t return_address, bool fd_wait, LoopWaitScope& scope) noexcept {
  const LoopWaitHook hook = g_loop_wait_hook.load(std::memory_order_relaxed);
  return hook && hook(return_address, fd_wait, scope);
}

}  // namespace unclog::calls

// In an interposed wait function: if its caller is an event loop's wait,
// makes the call inside the loop's step boundary.
#define UNCLOG_LOOP_WAIT(fd_wait, call)                                                                \
  if (unclog::calls::LoopWaitScope loop_scope_; unclog::calls::begin_loop_wait(                         \
          reinterpret_cast<std::uintptr_t>(__builtin_return_address(0)), fd_wait, loop_scope_)) [[unlikely]] { \
    return call;                                                                                       \
  }
