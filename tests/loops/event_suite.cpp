// libevent: timer events on a base of the test's own.
#include <event2/event.h>

#include "loop_cases.hpp"

using loop_cases::Case;

namespace {

Case g_case;

void on_timer(evutil_socket_t, short, void*) {
  switch (g_case) {
    case Case::sleep: usleep(80000); break;  // SLEEP
    case Case::spin: loop_cases::burn_cpu_ms(80); break;  // SPIN
    case Case::call: loop_cases::read_ready_pipe(); break;  // CALL
    case Case::clean: break;
  }
}

void after(event_base* base, event* ev, int ms) {
  timeval tv{ms / 1000, (ms % 1000) * 1000};
  (void)base;
  evtimer_add(ev, &tv);
}

void run_libevent(Case c) {
  g_case = c;
  event_base* base = event_base_new();
  event* work = evtimer_new(base, on_timer, nullptr);
  event* end = evtimer_new(base, [](evutil_socket_t, short, void*) {}, nullptr);
  after(base, work, 10);
  after(base, end, c == Case::clean ? 150 : 30);
  event_base_dispatch(base);
  event_free(work);
  event_free(end);
  event_base_free(base);
}

}  // namespace

LOOP_CASE_TESTS(Libevent, run_libevent)

// Events made active before the loop runs.
namespace {

void first_pass(evutil_socket_t, short, void*) {
  if (g_case == Case::sleep) usleep(80000);  // FIRST
}
void nowait(evutil_socket_t, short, void*) {
  if (g_case == Case::spin) loop_cases::burn_cpu_ms(80);  // NOWAIT
}
void active_call(evutil_socket_t, short, void*) {
  if (g_case == Case::call) loop_cases::read_ready_pipe();  // IDLE
}

void run_active(Case c, event_callback_fn fn, int flags) {
  g_case = c;
  event_base* base = event_base_new();
  event* ev = event_new(base, -1, 0, fn, nullptr);
  event_active(ev, EV_TIMEOUT, 0);
  event_base_loop(base, flags);
  event_free(ev);
  event_base_free(base);
}

void event_first(Case c) { run_active(c, first_pass, 0); }
void event_nowait(Case c) { run_active(c, nowait, EVLOOP_NONBLOCK); }
void event_idle(Case c) { run_active(c, active_call, EVLOOP_ONCE); }

}  // namespace

LOOP_FIRST_PASS_TESTS(Libevent, event_first, event_nowait, event_idle)
