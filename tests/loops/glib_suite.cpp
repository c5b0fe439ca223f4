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
