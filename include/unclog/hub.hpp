// The hub: a fiber scheduler on one thread, with green I/O on io_uring (or
// epoll where io_uring is refused).
//
// Threading: a hub lives on the thread that called run(); its fibers,
// handles and synchronisation primitives are used from that thread only.
// Different threads may each run their own hub at the same time.
//
// Ordering guarantees:
// - The run queue is FIFO: fibers made ready run in the order they became
//   ready. A newly spawned fiber is ready at once; spawn() does not switch.
// - One pass runs every fiber that was ready when the pass began, each as one
//   step; fibers made ready during a pass run in the next pass, after the hub
//   has submitted and reaped any pending I/O. yield() therefore lets every other ready
//   fiber run once, and I/O completions are never starved by busy fibers.
// - Timers fire in deadline order; equal deadlines fire in the order they
//   were set. A timer never fires early.
#pragma once
#include <chrono>
#include <cstddef>
#include <functional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "unclog/detail/offload.hpp"
#include "unclog/detail/task.hpp"
#include "unclog/fiber_options.hpp"

namespace unclog {

struct SpawnOptions {
  std::string name;            // shown in reports; default "fiber-N"
  std::size_t stack_size = 0;  // usable bytes; 0 = default_stack_size()
};

// Handle to a spawned fiber. Movable, not copyable. Destroying a handle that
// was neither joined nor detached detaches the fiber.
template <class R>
class JoinHandle {
 public:
  JoinHandle() = default;
  explicit JoinHandle(detail::Fiber* f) noexcept : f_(f) {}
  JoinHandle(JoinHandle&& o) noexcept : f_(std::exchange(o.f_, nullptr)) {}
  JoinHandle& operator=(JoinHandle&& o) noexcept {
    if (this != &o) {
      reset();
      f_ = std::exchange(o.f_, nullptr);
    }
    return *this;
  }
  ~JoinHandle() { reset(); }

  bool joinable() const noexcept { return f_ != nullptr; }
  bool finished() const noexcept { return f_ && detail::finished(f_); }

  // Suspends the calling fiber until this one finishes; returns its result
  // or rethrows its exception. The handle is empty afterwards. Throws
  // std::logic_error on an empty handle or outside a fiber of this hub.
  R join() {
    if (!f_) detail::throw_empty_join();
    struct Owned {
      detail::Fiber* f;
      ~Owned() { detail::release(f); }
    } owned{std::exchange(f_, nullptr)};
    detail::join(owned.f);
    if constexpr (!std::is_void_v<R>) {
      return std::move(*static_cast<detail::ValueTask<R>&>(detail::task_of(owned.f)).result);
    }
  }

  // Lets the fiber run on unwatched; an exception escaping it makes run() throw.
  void detach() noexcept { reset(); }

  // Asks the fiber to stop waiting: its current or next green I/O fails with
  // ECANCELED and its sleep ends early. Synchronisation waits are not affected.
  void cancel() noexcept {
    if (f_) detail::cancel(f_);
  }

 private:
  void reset() noexcept {
    if (f_) {
      detail::detach(f_);
      detail::release(std::exchange(f_, nullptr));
    }
  }
  detail::Fiber* f_ = nullptr;
};

// Runs `f` as the root fiber of a new hub on the calling thread. Returns
// f's result once every fiber spawned into the hub has finished; rethrows
// f's exception, else the first exception that escaped a detached fiber.
// Throws std::logic_error when called from inside a hub fiber (use spawn),
// and std::system_error when io_uring is refused.
template <class F>
auto run(F&& f, SpawnOptions options = {}) {
  using Fn = std::decay_t<F>;
  using R = std::decay_t<std::invoke_result_t<Fn&>>;
  detail::TaskOf<Fn, R> task(Fn(std::forward<F>(f)));
  if (options.name.empty()) options.name = "main";
  detail::run_root(task, options);
  if constexpr (!std::is_void_v<R>) return std::move(*task.result);
}

// Starts `f` as a new fiber on the current hub; it runs once the caller
// yields or waits. Throws std::logic_error outside a hub fiber.
template <class F>
auto spawn(SpawnOptions options, F&& f) {
  using Fn = std::decay_t<F>;
  using R = std::decay_t<std::invoke_result_t<Fn&>>;
  auto task = std::make_unique<detail::TaskOf<Fn, R>>(Fn(std::forward<F>(f)));
  return JoinHandle<R>(detail::spawn_task(std::move(task), options));
}
template <class F>
auto spawn(F&& f) {
  return spawn(SpawnOptions{}, std::forward<F>(f));
}

// Lets every other ready fiber run once, then resumes. Outside a hub: no-op.
void yield();

// Suspends the calling fiber for at least `d` (ends early if the fiber is
// cancelled). Outside a hub it blocks the thread like std::this_thread.
void sleep_for(std::chrono::nanoseconds d);

// True inside a hub fiber.
bool in_fiber() noexcept;

// --- offload: Eventlet's tpool ---
//
// Runs `f` on unclog's worker pool and suspends only the calling fiber
// until it returns: the hub runs its other fibers meanwhile, and the wait is
// not a blocking call of the step. Returns f's value or rethrows its
// exception. Outside a fiber it simply calls `f`.
//
// cancel() on the fiber's handle ends the wait with
// std::system_error(ECANCELED) as soon as `f` returns; `f` itself is never
// interrupted (nothing can safely stop a thread in the middle of a call).
// The pool: at most set_offload_threads() workers (default: the number of
// CPUs, at least 4), started as work arrives, joined at exit; they are not
// watched. Completion wakes the hub through its backend (io_uring or epoll),
// never by polling.
template <class F>
auto offload(F&& f) {
  if (!in_fiber()) return std::invoke(std::forward<F>(f));
  return detail::offload_with(-1, std::forward<F>(f));
}

// With a deadline: throws std::system_error(ETIMEDOUT) if `f` has not
// returned after `timeout`. `f` then goes on running on the pool and its
// result is dropped, so it must own what it uses (it is moved into the
// pool: capture by value).
template <class F>
auto offload(std::chrono::nanoseconds timeout, F&& f) {
  if (!in_fiber()) return std::invoke(std::forward<F>(f));
  return detail::offload_with(timeout.count() < 0 ? 0 : timeout.count(), std::forward<F>(f));
}

// The pool's size limit (n >= 1); workers already running beyond it finish
// their current job and leave.
void set_offload_threads(unsigned n);
// The running fiber's name; "" outside a fiber.
const std::string& fiber_name() noexcept;
// True once the running fiber's handle asked it to cancel.
bool cancellation_requested() noexcept;

}  // namespace unclog
