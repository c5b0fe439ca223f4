// libuv: timers on a loop of the test's own, and one on a std::thread.
#include <uv.h>

#include <thread>

#include "loop_cases.hpp"

using loop_cases::Case;

namespace {

Case g_case;

void on_timer(uv_timer_t*) {
  switch (g_case) {
    case Case::sleep: usleep(80000); break;  // SLEEP
    case Case::spin: loop_cases::burn_cpu_ms(80); break;  // SPIN
    case Case::call: loop_cases::read_ready_pipe(); break;  // CALL
    case Case::clean: break;
  }
}

void on_close(uv_handle_t*) {}

// A timer at 10 ms does the case's work; another at 30 ms (150 ms when
// clean: an idle wait) ends the loop, so the loop waits once more after
// the work.
void run_uv(Case c) {
  g_case = c;
  uv_loop_t loop;
  uv_loop_init(&loop);
  uv_timer_t work, end;
  uv_timer_init(&loop, &work);
  uv_timer_init(&loop, &end);
  uv_timer_start(&work, on_timer, 10, 0);
  uv_timer_start(&end, [](uv_timer_t*) {}, c == Case::clean ? 150 : 30, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_close(reinterpret_cast<uv_handle_t*>(&work), on_close);
  uv_close(reinterpret_cast<uv_handle_t*>(&end), on_close);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
}

}  // namespace

LOOP_CASE_TESTS(Libuv, run_uv)

// A loop whose only callback sleeps: uv_run returns right after it.
void run_uv_sleeping_last() {
  g_case = Case::sleep;
  uv_loop_t loop;
  uv_loop_init(&loop);
  uv_timer_t work;
  uv_timer_init(&loop, &work);
  uv_timer_start(&work, on_timer, 10, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_close(reinterpret_cast<uv_handle_t*>(&work), on_close);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
}

// The blocking callback is the loop's last: the report comes when the test ends.
TEST(Libuv, SleepThenExit) { run_uv_sleeping_last(); }

// What the test does after the loop returned is not the loop's.
TEST(Libuv, AfterTheLoopIsNotTheLoops) {
  run_uv(Case::clean);
  usleep(80000);
  loop_cases::burn_cpu_ms(80);
}

// A loop on a thread of its own fails the test that is running.
TEST(Libuv, SleepOnThread) {
  std::thread t([] { run_uv(Case::sleep); });
  t.join();
}

// ... and when that loop returns right after its blocking callback, the
// report is made as the thread ends.
TEST(Libuv, SleepThenExitOnThread) {
  std::thread t(run_uv_sleeping_last);
  t.join();
}

// Before the first wait: libuv runs due timers and idle callbacks first.
namespace {

void first_pass_timer(uv_timer_t*) {
  if (g_case == Case::sleep) usleep(80000);  // FIRST
}
void nowait_idle(uv_idle_t* h) {
  if (g_case == Case::spin) loop_cases::burn_cpu_ms(80);  // NOWAIT
  uv_idle_stop(h);
}
void idle_call(uv_idle_t* h) {
  if (g_case == Case::call) loop_cases::read_ready_pipe();  // IDLE
  uv_idle_stop(h);
}

void close_all(uv_loop_t* loop) {
  uv_walk(loop, [](uv_handle_t* h, void*) { if (!uv_is_closing(h)) uv_close(h, nullptr); }, nullptr);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_loop_close(loop);
}

void uv_first(Case c) {  // a 0 ms timer: due when uv_run starts
  g_case = c;
  uv_loop_t loop;
  uv_loop_init(&loop);
  uv_timer_t t;
  uv_timer_init(&loop, &t);
  uv_timer_start(&t, first_pass_timer, 0, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  close_all(&loop);
}

void uv_nowait(Case c) {
  g_case = c;
  uv_loop_t loop;
  uv_loop_init(&loop);
  uv_idle_t i;
  uv_idle_init(&loop, &i);
  uv_idle_start(&i, nowait_idle);
  uv_run(&loop, UV_RUN_NOWAIT);
  close_all(&loop);
}

void uv_idle(Case c) {
  g_case = c;
  uv_loop_t loop;
  uv_loop_init(&loop);
  uv_idle_t i;
  uv_idle_init(&loop, &i);
  uv_idle_start(&i, idle_call);
  uv_run(&loop, UV_RUN_DEFAULT);
  close_all(&loop);
}

}  // namespace

LOOP_FIRST_PASS_TESTS(Libuv, uv_first, uv_nowait, uv_idle)
