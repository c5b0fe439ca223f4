// The steps of Asio handlers (include/unclog/asio/handler_tracking.hpp):
// each outermost handler invocation on a thread is one step of that
// thread's slot, named by the operation that created the handler.
#include <cstdio>

#include "unclog/asio/handler_tracking.hpp"
#include "watch/config.hpp"
#include "watch/trace.hpp"
#include "watch/watch_internal.hpp"
#include "loop_steps.hpp"
#include "known_loops.hpp"

namespace unclog::asio_tracking {
namespace {

// The handler running on this thread, and its name as reports print it
// (formatted only when a report or a hang asks).
struct Running {
  const char* type = nullptr;
  const char* op = nullptr;
  const void* object = nullptr;
  std::int64_t began_ns = 0;  // while tracing
  char name[128] = {};
};
__attribute__((tls_model("initial-exec"))) thread_local Running t_running;

// The thread's slot, unless a step other than a loop step runs on it (the
// handler is then part of that step). A loop step of Asio's reactor (the
// batch before the first tracked handler was seen) ends here: from now on
// each handler is a step of its own.
watch::StepSlot* slot_for_handler() {
  watch::StepSlot* s = watch::attached_slot();
  if (!s || !(s->seq.load(std::memory_order_relaxed) & 1)) [[likely]] return s;
  if (!s->in_loop_step.load(std::memory_order_relaxed) || s->loop_site != &loops::asio_loop()) return nullptr;
  loops::end_loop_step_here(*s);
  return (s->seq.load(std::memory_order_relaxed) & 1) ? nullptr : s;
}

const char* name_of(const void* running) {
  auto* r = static_cast<Running*>(const_cast<void*>(running));
  const char* type = r->type ? r->type : "asio";
  const char* op = r->op ? r->op : "handler";
  if (r->object) {
    std::snprintf(r->name, sizeof r->name, "%s.%s (%s@%p)", type, op, type, r->object);
  } else {
    std::snprintf(r->name, sizeof r->name, "%s.%s", type, op);
  }
  return r->name;
}

}  // namespace

void* begin_step(const char* object_type, const char* op_name, const void* object) noexcept {
  if (!watch::config().enabled.load(std::memory_order_relaxed)) [[likely]] return nullptr;
  try {
    watch::StepSlot* s = slot_for_handler();  // null inside a step: part of it
    if (!s) return nullptr;
    Running& r = t_running;
    r.type = object_type;
    r.op = op_name;
    r.object = object;
    if (s->label_of.load(std::memory_order_relaxed) != &name_of) [[unlikely]] {  // another loop ran here since
      loops::note_asio_handlers_tracked();
      s->loop.store(&r, std::memory_order_relaxed);
      s->label_of.store(&name_of, std::memory_order_release);
      s->runner.store("asio handler", std::memory_order_relaxed);
      const loops::Loop& asio = loops::asio_loop();
      s->loop_hints[0] = asio.hint;
      s->loop_hints[1] = asio.sleep_hint;
      s->loop_hints[2] = asio.cpu_hint;
      s->loop_hints[3] = asio.lock_hint;
    }
    if (watch::trace::on()) [[unlikely]] r.began_ns = watch::trace::now_ns();
    watch::step_begin(s);
    return s;
  } catch (...) {
    return nullptr;  // out of memory for a slot: this handler goes unwatched
  }
}

void end_step(void* token) noexcept {
  auto* s = static_cast<watch::StepSlot*>(token);
  const std::uint64_t step = watch::step_end(s);
  if (watch::trace::on()) [[unlikely]] {
    Running& r = t_running;
    char op[40];
    std::snprintf(op, sizeof op, "%s.%s", r.type ? r.type : "asio", r.op ? r.op : "handler");
    watch::trace::t_track = watch::trace::record_loop_step("asio handler", op, r.began_ns, watch::trace::now_ns());
  }
  if (!step) return;
  try {
    watch::finish_step(*s, step, name_of(&t_running));
  } catch (...) {
    std::fprintf(stderr, "unclog: could not report a blocking Asio handler (out of memory?)\n");
  }
}

}  // namespace unclog::asio_tracking
