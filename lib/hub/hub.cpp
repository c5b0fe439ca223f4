#include "hub.hpp"

#include <cxxabi.h>

#include <time.h>

#include <cstdio>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>

#include "base/tsan_sync.hpp"
#include "overflow.hpp"
#include "unclog/hub.hpp"
#include "watch/trace.hpp"
#include "watch/watch_internal.hpp"

namespace unclog::detail {
namespace {

// Every running hub, for live_fibers(): fibers still alive when a test ends.
struct HubRegistry {
  std::mutex mu;
  std::vector<Hub*> hubs;
  std::uint64_t next_generation = 1;
};
HubRegistry& hub_registry() {
  return detail::made_once<HubRegistry>();  // used by other threads' hubs at exit
}

// Freed Fibers' memory, kept for the next spawn on this thread (a Fiber
// freed on another thread goes to that thread's list: blocks are alike).
constexpr std::align_val_t kFiberAlign{alignof(Fiber)};
// An open pass's end (see Hub::open_pass_): beyond any step number.
constexpr std::uint64_t kOpenPassEnd = UINT64_MAX / 2;
thread_local bool t_fiber_memory_gone = false;  // trivially destructible: valid at thread exit

class FiberMemory {
 public:
  ~FiberMemory() {
    t_fiber_memory_gone = true;  // Fibers freed later (static handles) go straight back
    for (void* p : free_) ::operator delete(p, kFiberAlign);
  }
  void* take() {
    if (free_.empty()) return ::operator new(sizeof(Fiber), kFiberAlign);
    void* p = free_.back();
    free_.pop_back();
    return p;
  }
  void give(void* p) noexcept {
    if (free_.size() < kKept) {
      try {
        free_.push_back(p);
        return;
      } catch (...) {
      }
    }
    ::operator delete(p, kFiberAlign);
  }

 private:
  static constexpr std::size_t kKept = 4096;
  std::vector<void*> free_;
};
thread_local FiberMemory t_fiber_memory;

}  // namespace

void* Fiber::operator new(std::size_t size) {
  (void)size;  // always sizeof(Fiber): nothing derives from it
  return t_fiber_memory_gone ? ::operator new(sizeof(Fiber), kFiberAlign) : t_fiber_memory.take();
}
void Fiber::operator delete(void* p) noexcept {
  if (t_fiber_memory_gone) {
    ::operator delete(p, kFiberAlign);
  } else {
    t_fiber_memory.give(p);
  }
}

void release_fiber(Fiber* f) noexcept {
  if (--f->refs == 0) {
    fiber::tsan_destroy_fiber(f->target.tsan_fiber);
    if (f->stack) fiber::StackPool::local().release(f->stack);
    delete f;
  }
}

__attribute__((tls_model("initial-exec"))) constinit thread_local Hub* Hub::t_current_ = nullptr;

Fiber* running_fiber_for_signal() noexcept {
  Hub* h = Hub::current();
  return h ? h->running() : nullptr;
}

Hub::Hub() : backend_(io::make_backend(*this)), slot_(watch::slot_for_new_hub()) {
  // Unwatched (detection off, or nested in a step that covers it): steps
  // keep the selector as the thread had it.
  own_marks_.trap_on_step.store(watch::t_trap_selector, std::memory_order_relaxed);
  loop_selector_ = slot_ ? 0 : watch::t_trap_selector;
  if (slot_) {
    marks_ = slot_;
    slot_->loop.store(this, std::memory_order_release);
    slot_->runner.store("fiber", std::memory_order_relaxed);
    slot_->label_of.store(
        [](const void* hub) -> const char* {
          // Called by the watchdog only while this hub's step is stuck.
          const Fiber* f = static_cast<const Hub*>(hub)->running_.load(std::memory_order_acquire);
          return f ? f->name.c_str() : "hub";
        },
        std::memory_order_release);
  }
}

Hub::~Hub() {
  // The watchdog may ask the slot for a step's name later: not through us.
  if (slot_) slot_->label_of.store(nullptr, std::memory_order_release);
  // With fibers left only when run() failed (deadlock, or an error of the
  // backend): first the kernel must stop using their buffers, and the timer
  // heap let go of them; then their stacks are discarded without unwinding.
  backend_.reset();
  timers_.clear();
  if (pending_fiber_) release_fiber(pending_fiber_);
  for (Fiber* f : finished_) release_fiber(f);
  while (Fiber* f = all_head_) {
    all_head_ = f->all_next;
    f->refs = 1;
    release_fiber(f);
  }
}

std::uint64_t hub_generation() noexcept {
  std::lock_guard lk(hub_registry().mu);
  return hub_registry().next_generation;
}

std::vector<std::string> live_fibers_since(std::uint64_t generation) {
  std::vector<std::string> out;
  HubRegistry& r = hub_registry();
  std::lock_guard lk(r.mu);
  for (Hub* h : r.hubs) {
    if (h->generation_ < generation) continue;
    std::lock_guard names(h->all_mu_);
    for (Fiber* f = h->all_head_; f; f = f->all_next) out.push_back(f->name);
  }
  return out;
}

Fiber* Hub::make_fiber(Task* task, std::unique_ptr<Task> owned, const SpawnOptions& options) {
  auto* f = new Fiber;
  try {
    f->stack = fiber::StackPool::local().acquire(options.stack_size);
  } catch (...) {
    delete f;
    throw;
  }
  // Stack coloring: every stack is page-aligned, so two fibers at the same
  // depth would save and restore registers at the same page offsets, and the
  // CPU takes a switch's loads from the new stack for reloads of the stores
  // it just made to the old one (4K aliasing). Sixteen start offsets, 128
  // bytes apart: the yield round trip 13.1 -> 12.7 ns, nops +3%
  // (tests/bench), no page more per idle fiber. Small stacks (a user's
  // choice) keep every byte.
  const std::size_t color = f->stack.usable >= 32 * 1024 ? 128 * (spawned_ % 16) : 0;
  f->ctx = fiber::make_context<&Hub::fiber_entry>(f->stack, color);
  f->target = fiber::target_of(f->stack, fiber::tsan_create_fiber());
  f->owned_task = std::move(owned);
  f->task = task;
  f->hub = this;
  ++spawned_;
  f->name = options.name.empty() ? "fiber-" + std::to_string(spawned_) : options.name;
  detail::tsan_release(f->name.c_str());  // the watchdog may read it for a hang (build_report)
  f->track = (generation_ + 1) * 1000000 + spawned_;
  {
    std::lock_guard lk(all_mu_);
    f->all_next = all_head_;
    if (all_head_) all_head_->all_prev = f;
    all_head_ = f;
  }
  ++live_;
  ready_.push(f);
  return f;
}

Fiber* Hub::spawn(std::unique_ptr<Task> task, const SpawnOptions& options) {
  Task* t = task.get();
  Fiber* f = make_fiber(t, std::move(task), options);
  f->refs++;  // the handle's
  return f;
}

namespace {

// The caught exception is the forced unwind of end_for_thread_exit, still
// caught (its catch block was left by a context switch, not ended).
[[noreturn]] void rethrow_thread_exit() { throw; }

}  // namespace

void Hub::run(Task& root, const SpawnOptions& options) {
  if (Hub::t_current_) throw std::logic_error("unclog::run called inside a hub fiber; use unclog::spawn");
  install_overflow_handler();
  Hub::t_current_ = this;
  loop_target_ = fiber::thread_stack_target();
  {
    HubRegistry& r = hub_registry();
    std::lock_guard lk(r.mu);
    generation_ = r.next_generation++;
    r.hubs.push_back(this);
  }
  struct Reset {
    Hub* hub;
    ~Reset() {
      Hub::t_current_ = nullptr;
      HubRegistry& r = hub_registry();
      std::lock_guard lk(r.mu);
      std::erase(r.hubs, hub);
    }
  } reset{this};
  Fiber* root_fiber = make_fiber(&root, nullptr, options);
  root_fiber->refs++;
  root_fiber->error_seen = true;  // run() rethrows it
  struct Drop {
    Fiber* f;
    ~Drop() { release_fiber(f); }
  } drop{root_fiber};
  tracing_ = watch::trace::on();
  // The ring is made here, not at the first step's end, where the loader's
  // lock (the ring's exit flush is registered under it) would be waited for
  // inside the user's step and reported as the user's futex wait.
  if (tracing_) watch::trace::prepare_thread();
  struct Flush {
    bool on;
    ~Flush() {
      if (on) watch::trace::flush_thread();
    }
  } flush{tracing_};
  loop();
  if (thread_ending_) rethrow_thread_exit();

  std::exception_ptr root_error = root_fiber->error;
  for (Fiber* f : unobserved_) {
    if (!f->error_seen) record_detached_error(f);
    f->hub = nullptr;
    release_fiber(f);
  }
  unobserved_.clear();
  // Nothing is lost: errors that cannot be rethrown are printed.
  std::size_t first_unprinted = root_error ? 0 : 1;
  for (std::size_t i = first_unprinted; i < detached_errors_.size(); ++i) {
    const auto& [name, error] = detached_errors_[i];
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    std::fprintf(stderr, "unclog: fiber \"%s\" also failed: %s\n", name.c_str(), what.c_str());
  }
  if (root_error) std::rethrow_exception(root_error);
  if (!detached_errors_.empty()) std::rethrow_exception(detached_errors_.front().second);
}

// No UBSan here: a forced unwind is a foreign exception with no object, and
// UBSan calls binding `abi::__forced_unwind&` to it a null reference.
__attribute__((no_sanitize("undefined"))) void Hub::fiber_entry() {
  fiber::on_first_entry();
  Hub* hub = Hub::t_current_;
  Fiber* f = hub->running();
  try {
    f->task->run();
  } catch (abi::__forced_unwind&) {
    hub->end_for_thread_exit(f);
  } catch (...) {
    f->error = std::current_exception();
  }
  hub->finish(f);
}

// pthread_cancel or pthread_exit in a fiber: the thread is ending. The
// unwind must go on (swallowing it aborts the process), through the frames
// of the thread's own stack too, as without us: destructors there (a lock
// guard around the watched statement, the hub itself) must run. Past the
// fiber's first frame there is no way down to them, so the fiber ends here
// inside its catch block, the loop returns at once, and run() rethrows the
// caught unwind (rethrow_thread_exit) from the thread's stack. Other fibers
// of the hub are discarded, their frames not unwound, as a thread's would
// be if it had no fibers.
void Hub::end_for_thread_exit(Fiber* f) {
  thread_ending_ = true;
  finish(f);
}

void Hub::finish(Fiber* f) {
  f->state = FiberState::done;
  --live_;
  if (f->joiner) {
    unpark(f->joiner);
  } else if (f->error) {
    if (f->detached) {
      record_detached_error(f);
    } else {
      f->refs++;  // kept until run() ends, so the error is not lost
      unobserved_.push_back(f);
    }
  }
  finished_.push_back(f);
  if (tracing_) [[unlikely]] trace_step_end(f);
  if (std::uint64_t s = end_step()) report_later(s, f);
  {
    // After the step: another thread listing fibers (a test's end) may hold
    // the lock, and that wait is ours, not the fiber's.
    std::lock_guard lk(all_mu_);
    if (f->all_prev) f->all_prev->all_next = f->all_next; else all_head_ = f->all_next;
    if (f->all_next) f->all_next->all_prev = f->all_prev;
  }
  running_.store(nullptr, std::memory_order_release);
  fiber::exit_to(loop_ctx_, loop_target_);
}

void Hub::record_detached_error(Fiber* f) noexcept {
  if (f->error_seen || !f->error) return;
  f->error_seen = true;
  try {
    detached_errors_.emplace_back(f->name, f->error);
  } catch (...) {
    std::fprintf(stderr, "unclog: out of memory recording fiber \"%s\"'s exception\n", f->name.c_str());
  }
}

void Hub::loop() {
  for (;;) {
    if (thread_ending_) [[unlikely]] return;
    if (pending_report_) {
      watch::finish_step(*slot_, std::exchange(pending_report_, 0), pending_fiber_->name.c_str());
      release_fiber(std::exchange(pending_fiber_, nullptr));
    }
    for (Fiber* f : finished_) {
      // The stack goes back now even if a JoinHandle keeps the Fiber.
      fiber::StackPool::local().release(f->stack);
      f->stack = {};
      release_fiber(f);
    }
    finished_.clear();
    const std::uint64_t next_step = marks_->seq.load(std::memory_order_relaxed) + 1;
    if (next_step < pass_end_ && !ready_.empty()) {  // the pass goes on
      resume_from_loop(ready_.pop());
      continue;
    }
    if (live_ == 0) return;

    if (tracing_) [[unlikely]] watch::trace::record_pass(pass_began_ns_, watch::trace::now_ns());
    timers_.set_live_hint(live_);
    fire_timers();
    if (ready_.empty()) {
      const std::int64_t next = timers_.next_deadline();
      if (next < 0 && !backend_->busy()) fail_deadlock();
      const std::int64_t waited_from = tracing_ ? watch::trace::now_ns() : 0;
      backend_->wait(next < 0 ? -1 : std::max<std::int64_t>(0, next - monotonic_ns()));
      if (tracing_) [[unlikely]] watch::trace::record_wait(waited_from, watch::trace::now_ns());
      fire_timers();
    } else if (backend_->busy()) {
      backend_->poll();
    }
    pass_end_ = next_step + 2 * ready_.size();
    open_pass_ = false;
    if (tracing_) [[unlikely]] pass_began_ns_ = watch::trace::now_ns();
  }
}

void Hub::report_later(std::uint64_t step, Fiber* f) noexcept {
  pending_report_ = step;
  pending_fiber_ = f;
  f->refs++;  // its name is needed after it may have finished
}

void Hub::fire_timers() {
  if (timers_.empty()) return;  // no clock read without timers
  timers_.fire_due(monotonic_ns(), [this](Fiber* f) {
    f->timer_fired = true;
    unpark(f);
  });
}

std::uint64_t Hub::end_step() noexcept {
  if (slot_) return watch::step_end(slot_);
  own_marks_.seq.store(own_marks_.seq.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  return 0;
}

void Hub::begin_step(Fiber* f, std::uint64_t step) noexcept {
  running_.store(f, std::memory_order_release);
  if (tracing_) [[unlikely]] {
    step_begin_ns_ = watch::trace::now_ns();
    watch::trace::t_track = f->track;
  }
  // Before the step begins: a watchdog that lowers check_at for this step
  // does so after it has seen the step begin, and is not overwritten.
  // Tracing stores 0, so that the step's end takes the slow path.
  marks_->check_at.store(tracing_ ? 0 : pass_end_, std::memory_order_relaxed);
  marks_->seq.store(step, std::memory_order_release);
  watch::wake_watchdog_if_asleep();
  watch::t_trap_selector = marks_->trap_on_step.load(std::memory_order_relaxed);
}

void Hub::resume_from_loop(Fiber* f) {
  prefetch_next_stack();
  // Every step begins with the selector re-armed (begin_step, step_switch);
  // the loop's own calls are not trapped.
  begin_step(f, marks_->seq.load(std::memory_order_relaxed) + 1);
  fiber::switch_to(&loop_ctx_, f->ctx, f->target);
  watch::t_trap_selector = loop_selector_;
}

void Hub::trace_step_end(const Fiber* f) noexcept {
  watch::trace::record_step(f->track, f->name.c_str(), step_begin_ns_, watch::trace::now_ns());
}

// The pass is over, or the detector wants this step's end checked (or a
// trace times every step).
void Hub::switch_out_slow(Fiber* self) {
  const std::uint64_t s = marks_->seq.load(std::memory_order_relaxed);
  // check_at is 0 only when the watchdog or call mode lowered it, or a trace
  // times every step: only then is `target` worth a load (from another
  // cache line), and only then is tracing asked about.
  bool checked = false;
  if (marks_->check_at.load(std::memory_order_acquire) == 0) [[unlikely]] {
    if (tracing_) trace_step_end(self);
    checked = slot_ && slot_->target.load(std::memory_order_relaxed) == s;
  }
  if (!checked) {
    // The pass is over but the loop has nothing to do between passes (no
    // timers, no I/O, nothing to free): start the next pass from here and
    // save two context switches.
    if (s + 2 >= pass_end_ && !ready_.empty() && timers_.empty() && finished_.empty() && !backend_->busy()) {
      pass_end_ = kOpenPassEnd;
      open_pass_ = true;
    }
    if (s + 2 < pass_end_) {  // end this step and begin the next in one store
      Fiber* next = ready_.pop();
      begin_step(next, s + 2);
      if (next != self) fiber::switch_to(&self->ctx, next->ctx, next->target);
      return;
    }
  }
  marks_->seq.store(s + 1, std::memory_order_release);
  if (checked) report_later(s, self);  // built on the loop's stack, not this fiber's
  running_.store(nullptr, std::memory_order_release);
  fiber::switch_to(&self->ctx, loop_ctx_, loop_target_);
}

// A fiber parks in an open pass: the pass ends after the fibers ready now
// have run once more, and the loop then does what the wait asked for. Only
// lowered: a watchdog's request (check_at 0) stays.
void Hub::close_open_pass() noexcept {
  open_pass_ = false;
  const std::uint64_t s = marks_->seq.load(std::memory_order_relaxed);
  pass_end_ = s + 2 + 2 * ready_.size();
  std::uint64_t at = marks_->check_at.load(std::memory_order_relaxed);
  while (at > pass_end_ && !marks_->check_at.compare_exchange_weak(at, pass_end_, std::memory_order_relaxed)) {
  }
}

bool Hub::park_until(std::int64_t deadline_ns) {
  Fiber* self = running();
  if (self->cancel_requested) return false;
  self->timer_fired = false;
  if (deadline_ns >= 0) timers_.add(deadline_ns, self);
  self->cancellable = true;
  park();
  self->cancellable = false;
  if (self->timer_fired) {
    self->timer_fired = false;
    return true;
  }
  self->timer_gen++;  // disarm
  return false;
}

void Hub::join(Fiber* f) {
  Fiber* self = running();
  if (f == self) throw std::logic_error("unclog: a fiber cannot join itself");
  if (f->state != FiberState::done) {
    if (f->joiner) throw std::logic_error("unclog: fiber \"" + f->name + "\" is already being joined");
    f->joiner = self;
    while (f->state != FiberState::done) park();
    f->joiner = nullptr;
  }
  f->error_seen = true;
  if (f->error) std::rethrow_exception(f->error);
}

void Hub::cancel(Fiber* f) noexcept {
  if (f->state == FiberState::done) return;
  f->cancel_requested = true;
  if (f->state == FiberState::parked && f->cancellable) unpark(f);
}

void Hub::fail_deadlock() {
  std::string names;
  std::size_t shown = 0;
  for (Fiber* f = all_head_; f && shown < 8; f = f->all_next, ++shown) {
    names += names.empty() ? "\"" : ", \"";
    names += f->name + "\"";
  }
  if (live_ > shown) names += ", ...";
  throw std::runtime_error("unclog: deadlock: " + std::to_string(live_) +
                           " fiber(s) wait and nothing can wake them (no timers, no I/O): " + names);
}

}  // namespace unclog::detail
