#include "tracer.hpp"

#include <unistd.h>

#include <atomic>

#include "notices.hpp"
#include "proc_thread.hpp"

namespace unclog::watch {
namespace {

std::atomic<bool> g_withdrawn{false};
std::int64_t g_next_look_ns = 0;  // watchdog thread only
constexpr std::int64_t kLookEveryNs = 200'000'000;

}  // namespace

bool tracer_attached() noexcept { return thread_status(static_cast<pid_t>(getpid()), 0).traced; }

bool traps_withdrawn() noexcept { return g_withdrawn.load(std::memory_order_relaxed); }

void withdraw_traps_if_traced(const std::vector<StepSlot*>& slots, std::int64_t now_ns) {
  if (g_withdrawn.load(std::memory_order_relaxed) || now_ns < g_next_look_ns) return;
  bool trapping = false;
  for (const StepSlot* s : slots) trapping = trapping || s->trap_on_step.load(std::memory_order_relaxed);
  if (!trapping) return;
  g_next_look_ns = now_ns + kLookEveryNs;
  if (!tracer_attached()) return;
  g_withdrawn.store(true, std::memory_order_relaxed);
  for (StepSlot* s : slots) {
    // The next step stores 0; the one running now stops trapping here (a
    // SIGSYS handler running meanwhile may put its saved 1 back until the
    // step ends).
    s->trap_on_step.store(0, std::memory_order_relaxed);
    if (s->trap_selector) *s->trap_selector = 0;
  }
  notice_traps_off(kTracerNotice);
}

}  // namespace unclog::watch
