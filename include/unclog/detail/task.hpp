// Internal: the type-erased body of a fiber and the scheduler entry points
// that the public templates (spawn, run, sync primitives) expand to.
// Not part of the public contract; may change at any time.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

namespace unclog {
struct SpawnOptions;
namespace detail {

struct Fiber;  // defined in lib/hub; opaque to users

struct Task {
  virtual ~Task() = default;
  virtual void run() = 0;
};

// A task whose result join() hands back.
template <class R>
struct ValueTask : Task {
  std::optional<R> result;
};
template <>
struct ValueTask<void> : Task {};

template <class F, class R = std::decay_t<std::invoke_result_t<F&>>>
struct TaskOf final : ValueTask<R> {
  explicit TaskOf(F&& fn) : f(std::move(fn)) {}
  void run() override {
    if constexpr (std::is_void_v<R>) {
      f();
    } else {
      this->result.emplace(f());
    }
  }
  F f;
};

// Runs `root` as the root fiber of a new hub on this thread; returns when
// every fiber of that hub has finished; rethrows the root's exception, else
// the first exception that escaped a detached fiber.
void run_root(Task& root, const SpawnOptions& options);

// Starts a fiber on the current hub (throws std::logic_error outside one).
// The returned fiber carries one reference owned by the caller.
Fiber* spawn_task(std::unique_ptr<Task> task, const SpawnOptions& options);
Task& task_of(Fiber* f) noexcept;
void join(Fiber* f);          // waits, then rethrows the fiber's exception
void detach(Fiber* f) noexcept;
void cancel(Fiber* f) noexcept;
bool finished(Fiber* f) noexcept;
void release(Fiber* f) noexcept;  // drops the caller's reference

// Throws std::logic_error for join() on an empty handle. Out of line, as
// every throw reachable from our headers is: a user's -fno-exceptions
// translation unit must compile them.
[[noreturn]] void throw_empty_join();

// For synchronisation primitives (lib/sync) on the current hub.
Fiber* current_fiber() noexcept;  // nullptr outside a fiber
void park();                      // suspend the current fiber until unpark()
void unpark(Fiber* f) noexcept;   // make a parked fiber ready (FIFO)

}  // namespace detail
}  // namespace unclog
