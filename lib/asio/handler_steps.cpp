// The steps of Asio handlers (include/unclog/asio/handler_tracking.hpp):
// each outermost handler invocation on a thread is one step of that
// thread's slot, named by the operation that created the handler.
#include <cstdio>

#include "unclog/asio/handler_tracking.hpp"
#include "watch/config.hpp"
#include "watch/trace.hpp"
#include "watch/watch_internal.hpp"

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

// This thread's slot as slot_for_new_hub() last set it up, and the settings
// it was set up for: asking it per handler would wake the watchdog each time.
struct Attached {
  watch::StepSlot* slot = nullptr;
  std::int64_t resolution_ns = 0;
  bool calls = false, traps = false;
};
__attribute__((tls_model("initial-exec"))) thread_local Attached t_attached;

watch::StepSlot* slot_for_handler() {
  const watch::Config& c = watch::config();
  Attached& a = t_attached;
  const std::int64_t res = c.resolution_ns.load(std::memory_order_relaxed);
  const bool calls = c.call_reports.load(std::memory_order_relaxed);
  const bool traps = c.syscall_traps.load(std::memory_order_relaxed);
  if (a.slot && a.resolution_ns == res && a.calls == calls && a.traps == traps) [[likely]] {
    return (a.slot->seq.load(std::memory_order_relaxed) & 1) ? nullptr : a.slot;
  }
  watch::StepSlot* s = watch::slot_for_new_hub();  // null inside a step
  if (s) a = {s, res, calls, traps};
  return s;
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
    if (s->label_of.load(std::memory_order_relaxed) != &name_of) [[unlikely]] {  // a hub ran here since
      s->loop.store(&r, std::memory_order_relaxed);
      s->label_of.store(&name_of, std::memory_order_release);
      s->runner.store("asio handler", std::memory_order_relaxed);
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
