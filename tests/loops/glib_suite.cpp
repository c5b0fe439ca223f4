// GLib: timeout sources on a context of the test's own.
#include <glib.h>

#include <thread>

#include "loop_cases.hpp"

using loop_cases::Case;

namespace {

Case g_case;

gboolean on_timeout(gpointer) {
  switch (g_case) {
    case Case::sleep: usleep(80000); break;  // SLEEP
    case Case::spin: loop_cases::burn_cpu_ms(80); break;  // SPIN
    case Case::call: loop_cases::read_ready_pipe(); break;  // CALL
    case Case::clean: break;
  }
  return G_SOURCE_REMOVE;
}

gboolean quit(gpointer loop) {
  g_main_loop_quit(static_cast<GMainLoop*>(loop));
  return G_SOURCE_REMOVE;
}

void add_timeout(GMainContext* ctx, guint ms, GSourceFunc f, gpointer data) {
  GSource* s = g_timeout_source_new(ms);
  g_source_set_callback(s, f, data, nullptr);
  g_source_attach(s, ctx);
  g_source_unref(s);
}

void run_glib(Case c) {
  g_case = c;
  GMainContext* ctx = g_main_context_new();
  g_main_context_push_thread_default(ctx);
  GMainLoop* loop = g_main_loop_new(ctx, FALSE);
  add_timeout(ctx, 10, on_timeout, nullptr);
  add_timeout(ctx, c == Case::clean ? 150 : 30, quit, loop);
  g_main_loop_run(loop);
  g_main_loop_unref(loop);
  g_main_context_pop_thread_default(ctx);
  g_main_context_unref(ctx);
}

}  // namespace

LOOP_CASE_TESTS(GLib, run_glib)

TEST(GLib, SleepOnThread) {
  std::thread t([] { run_glib(Case::sleep); });
  t.join();
}

// Idle sources, and iterations that may not block.
namespace {

gboolean first_pass(gpointer loop) {
  if (g_case == Case::sleep) usleep(80000);  // FIRST
  g_main_loop_quit(static_cast<GMainLoop*>(loop));
  return G_SOURCE_REMOVE;
}
gboolean nowait(gpointer) {
  if (g_case == Case::spin) loop_cases::burn_cpu_ms(80);  // NOWAIT
  return G_SOURCE_REMOVE;
}
gboolean idle_call(gpointer) {
  if (g_case == Case::call) loop_cases::read_ready_pipe();  // IDLE
  return G_SOURCE_REMOVE;
}

void add_idle(GMainContext* ctx, GSourceFunc f, gpointer data) {
  GSource* s = g_idle_source_new();
  g_source_set_callback(s, f, data, nullptr);
  g_source_attach(s, ctx);
  g_source_unref(s);
}

void glib_first(Case c) {
  g_case = c;
  GMainContext* ctx = g_main_context_new();
  GMainLoop* loop = g_main_loop_new(ctx, FALSE);
  add_idle(ctx, first_pass, loop);
  g_main_loop_run(loop);
  g_main_loop_unref(loop);
  g_main_context_unref(ctx);
}

void glib_iterate(Case c, GSourceFunc f, gboolean may_block) {
  g_case = c;
  GMainContext* ctx = g_main_context_new();
  add_idle(ctx, f, nullptr);
  g_main_context_iteration(ctx, may_block);
  g_main_context_unref(ctx);
}
void glib_nowait(Case c) { glib_iterate(c, nowait, FALSE); }
void glib_idle(Case c) { glib_iterate(c, idle_call, TRUE); }

}  // namespace

LOOP_FIRST_PASS_TESTS(GLib, glib_first, glib_nowait, glib_idle)
