// unclog::offload: the worker pool, and the fiber's side of the wait.
//
// Each job carries an eventfd. The waiting fiber reads it with green I/O,
// so the hub sleeps in its backend (an io_uring read, or epoll) and wakes
// when the worker writes it; no polling, no change to the hub loop.
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "calls/calls.hpp"
#include "io/own_fd.hpp"
#include "hub.hpp"
#include "unclog/hub.hpp"
#include "unclog/io.hpp"

namespace unclog {
namespace detail {

OffloadJob::~OffloadJob() {
  if (wake_fd < 0) return;
  calls::InternalScope internal;
  ::close(wake_fd);
}

namespace {

class Pool {
 public:
  Pool() { pthread_atfork(nullptr, nullptr, [] { pool().after_fork_child(); }); }
  ~Pool() { stop(); }

  static Pool& pool() {
    static Pool p;
    return p;
  }

  void submit(std::shared_ptr<OffloadJob> job) {
    std::unique_lock lk(mu_);
    queue_.push_back(std::move(job));
    if (idle_ == 0 && threads_.size() < limit_) {
      threads_.emplace_back([this] { work(); });
    } else {
      lk.unlock();
      cv_.notify_one();
    }
  }

  void set_limit(unsigned n) {
    std::lock_guard lk(mu_);
    limit_ = std::max(1u, n);
  }

 private:
  void work() {
    // The workers are not the program's event loops: nothing here is
    // watched, and no signal meant for the program should land here.
    std::unique_lock lk(mu_);
    for (;;) {
      ++idle_;
      cv_.wait(lk, [this] { return stopping_ || !queue_.empty(); });
      --idle_;
      if (queue_.empty()) return;  // stopping
      std::shared_ptr<OffloadJob> job = std::move(queue_.front());
      queue_.pop_front();
      lk.unlock();
      job->call();
      int pending = 0;
      if (job->state.compare_exchange_strong(pending, 1, std::memory_order_acq_rel)) {
        const std::uint64_t one = 1;
        (void)!::write(job->wake_fd, &one, sizeof one);
      }  // else abandoned at its deadline: nobody waits
      job.reset();
      lk.lock();
    }
  }

  void stop() {
    std::vector<std::thread> threads;
    {
      std::lock_guard lk(mu_);
      stopping_ = true;
      queue_.clear();
      threads.swap(threads_);
    }
    cv_.notify_all();
    for (auto& t : threads) {
      if (t.joinable()) t.join();
    }
  }

  // The child of a fork has none of the parent's workers: start afresh.
  void after_fork_child() {
    new (&mu_) std::mutex;
    new (&cv_) std::condition_variable;
    for (auto& t : threads_) t.detach();  // not ours in this process
    threads_.clear();
    queue_.clear();
    idle_ = 0;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<OffloadJob>> queue_;
  std::vector<std::thread> threads_;
  unsigned idle_ = 0;
  unsigned limit_ = std::max(4u, std::thread::hardware_concurrency());
  bool stopping_ = false;
};

}  // namespace

void throw_offload_error(int err) { throw std::system_error(err, std::generic_category(), "unclog::offload"); }

int offload_wait(const std::shared_ptr<OffloadJob>& job, std::int64_t timeout_ns) {
  Fiber* self = current_fiber();
  {
    calls::InternalScope internal;  // our eventfd is not the user's call
    job->wake_fd = io::keep_fd_high(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  }
  if (job->wake_fd < 0) return errno;
  {
    // The pool's lock is held for a queue push or pop: a wait for it is
    // ours, short, and not the user's blocking call.
    calls::InternalScope internal;
    Pool::pool().submit(job);
  }
  const std::int64_t deadline = timeout_ns < 0 ? -1 : monotonic_ns() + timeout_ns;
  bool cancelled = false;
  std::uint64_t value;
  for (;;) {
    // A cancelled fiber still waits for `f` (it may use this fiber's
    // stack): its wait is made uncancellable, and ECANCELED comes after.
    const bool was_cancelled = std::exchange(self->cancel_requested, false);
    cancelled = cancelled || was_cancelled;
    ssize_t r;
    if (deadline < 0 || cancelled) {
      r = io::read(job->wake_fd, &value, sizeof value);
    } else {
      r = io::read(job->wake_fd, &value, sizeof value,
                   std::chrono::nanoseconds(std::max<std::int64_t>(0, deadline - monotonic_ns())));
    }
    const int err = r < 0 ? errno : 0;
    self->cancel_requested = self->cancel_requested || cancelled;
    if (r == sizeof value) return cancelled ? ECANCELED : 0;
    if (err == ETIMEDOUT) {
      int pending = 0;
      if (job->state.compare_exchange_strong(pending, 2, std::memory_order_acq_rel)) return ETIMEDOUT;
      continue;  // done just now: its wake-up is on the way
    }
    if (err != ECANCELED && err != EINTR && err != EAGAIN) {
      // The wait itself failed (out of SQEs, ...): the job may still run;
      // abandon it if it has not finished.
      int pending = 0;
      if (job->state.compare_exchange_strong(pending, 2, std::memory_order_acq_rel)) return err;
    }
  }
}

}  // namespace detail

void set_offload_threads(unsigned n) { detail::Pool::pool().set_limit(n); }

}  // namespace unclog
