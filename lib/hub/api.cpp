// The public hub API and the detail:: entry points behind the templates.
#include <pthread.h>

#include <algorithm>
#include <thread>

#include "hub.hpp"
#include "unclog/hub.hpp"

namespace unclog {
namespace detail {
namespace {

Hub& require_hub(const char* what) {
  Hub* h = Hub::current();
  if (!h || !h->running()) throw std::logic_error(std::string("unclog: ") + what + " outside a hub fiber");
  return *h;
}

}  // namespace

void throw_empty_join() { throw std::logic_error("unclog: join() on an empty JoinHandle"); }

// The root fiber runs code that ran on the thread's own stack before it was
// watched (a test body, a statement): it gets that stack's size, reserved
// and touched page by page, so a recursion that fits without us fits here.
std::size_t thread_stack_size() {
  static thread_local std::size_t size = [] {
    std::size_t n = 8u << 20;
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
      std::size_t got = 0;
      if (pthread_attr_getstacksize(&attr, &got) == 0 && got > 0) n = got;
      pthread_attr_destroy(&attr);
    }
    return std::clamp<std::size_t>(n, default_stack_size(), 64u << 20);
  }();
  return size;
}

void run_root(Task& root, const SpawnOptions& options) {
  if (Hub::current()) throw std::logic_error("unclog::run called inside a hub fiber; use unclog::spawn");
  Hub hub;
  if (options.stack_size == 0) {
    SpawnOptions sized = options;
    sized.stack_size = thread_stack_size();
    hub.run(root, sized);
  } else {
    hub.run(root, options);
  }
}

Fiber* spawn_task(std::unique_ptr<Task> task, const SpawnOptions& options) {
  return require_hub("spawn()").spawn(std::move(task), options);
}

Task& task_of(Fiber* f) noexcept { return *f->task; }

void join(Fiber* f) { require_hub("join()").join(f); }

void detach(Fiber* f) noexcept {
  f->detached = true;
  if (f->state == FiberState::done && f->error && !f->error_seen && f->hub) f->hub->record_detached_error(f);
}

void cancel(Fiber* f) noexcept {
  if (f->hub && f->state != FiberState::done) f->hub->cancel(f);
}

bool finished(Fiber* f) noexcept { return f->state == FiberState::done; }
void release(Fiber* f) noexcept { release_fiber(f); }

Fiber* current_fiber() noexcept {
  Hub* h = Hub::current();
  return h ? h->running() : nullptr;
}
void park() { require_hub("waiting").park(); }
void unpark(Fiber* f) noexcept { f->hub->unpark(f); }

}  // namespace detail

void yield() {
  detail::Hub* h = detail::Hub::current();
  if (h && h->running()) h->yield();
}

void sleep_for(std::chrono::nanoseconds d) {
  detail::Hub* h = detail::Hub::current();
  if (!h || !h->running()) {
    std::this_thread::sleep_for(d);
    return;
  }
  if (d.count() <= 0) {
    h->yield();
    return;
  }
  h->park_until(detail::monotonic_ns() + d.count());
}

bool in_fiber() noexcept { return detail::current_fiber() != nullptr; }

const std::string& fiber_name() noexcept {
  static const std::string none;
  detail::Fiber* f = detail::current_fiber();
  return f ? f->name : none;
}

bool cancellation_requested() noexcept {
  detail::Fiber* f = detail::current_fiber();
  return f && f->cancel_requested;
}

}  // namespace unclog
