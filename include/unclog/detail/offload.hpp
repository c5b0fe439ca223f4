// Internal: the type-erased job behind unclog::offload. Not part of the
// public contract.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <system_error>
#include <type_traits>
#include <utility>

namespace unclog::detail {

// One offloaded call, shared by the waiting fiber and the worker that runs
// it (shared_ptr: with a deadline the fiber may stop waiting first).
struct OffloadJob {
  virtual ~OffloadJob();
  virtual void call() noexcept = 0;  // runs the callable, keeping its result or exception

  // 0 pending, 1 done (the worker tells the fiber), 2 abandoned (the fiber
  // stopped waiting at its deadline; the result is dropped).
  std::atomic<int> state{0};
  int wake_fd = -1;  // eventfd the worker writes once done; the fiber's green read waits on it
  std::exception_ptr error;
};

template <class F, class R>
struct OffloadOf final : OffloadJob {
  explicit OffloadOf(F&& fn) : f(std::move(fn)) {}
  void call() noexcept override {
#if defined(__cpp_exceptions)
    try {
      invoke();
    } catch (...) {
      error = std::current_exception();
    }
#else
    invoke();  // a -fno-exceptions translation unit: nothing can escape f
#endif
  }
  void invoke() {
    if constexpr (std::is_void_v<R>) {
      f();
    } else {
      result.emplace(f());
    }
  }
  R take() {
    if (error) std::rethrow_exception(error);
    if constexpr (!std::is_void_v<R>) return std::move(*result);
  }
  F f;
  std::conditional_t<std::is_void_v<R>, char, std::optional<R>> result;
};

// Queues `job` on the worker pool and suspends the calling fiber until it is
// done (returns 0), or its deadline passes first (ETIMEDOUT; the job is
// abandoned), or the fiber was cancelled (ECANCELED, once the job is done).
// timeout_ns < 0: none. Must be called in a fiber.
int offload_wait(const std::shared_ptr<OffloadJob>& job, std::int64_t timeout_ns);

// Throws std::system_error(err) for a wait that did not end with the job
// done. Out of line so that -fno-exceptions users can include this header.
[[noreturn]] void throw_offload_error(int err);

template <class F>
auto offload_with(std::int64_t timeout_ns, F&& f) {
  using Fn = std::decay_t<F>;
  using R = std::decay_t<std::invoke_result_t<Fn&>>;
  auto job = std::make_shared<OffloadOf<Fn, R>>(Fn(std::forward<F>(f)));
  if (const int err = offload_wait(job, timeout_ns)) throw_offload_error(err);
  return job->take();
}

}  // namespace unclog::detail
