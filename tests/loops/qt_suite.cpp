// Qt 5: single-shot timers in a QEventLoop, on the GLib dispatcher or, with
// QT_NO_GLIB=1 (the checker's second run), Qt's own.
#include <QAbstractEventDispatcher>
#include <QCoreApplication>
#include <QEventLoop>
#include <QTimer>

#include <cstdlib>
#include <cstring>

#include "loop_cases.hpp"

using loop_cases::Case;

namespace {

Case g_case;

void on_timer() {
  switch (g_case) {
    case Case::sleep: usleep(80000); break;  // SLEEP
    case Case::spin: loop_cases::burn_cpu_ms(80); break;  // SPIN
    case Case::call: loop_cases::read_ready_pipe(); break;  // CALL
    case Case::clean: break;
  }
}

void ensure_app() {
  static int argc = 1;
  static char name[] = "loops_suite";
  static char* argv[] = {name, nullptr};
  static QCoreApplication* app = new QCoreApplication(argc, argv);
  (void)app;
}

void run_qt(Case c) {
  ensure_app();
  g_case = c;
  QEventLoop loop;
  QTimer::singleShot(10, on_timer);
  QTimer::singleShot(c == Case::clean ? 150 : 30, [&loop] { loop.quit(); });
  loop.exec();
}

}  // namespace

LOOP_CASE_TESTS(Qt, run_qt)

// The dispatcher is the one the run asked for.
TEST(Qt, Dispatcher) {
  ensure_app();
  const char* name = QAbstractEventDispatcher::instance()->metaObject()->className();
  const bool no_glib = std::getenv("QT_NO_GLIB") != nullptr;
  EXPECT_STREQ(name, no_glib ? "QEventDispatcherUNIX" : "QEventDispatcherGlib");
}

// Queued calls and zero timers, before the loop waits or with no wait.
namespace {

void first_pass() {
  if (g_case == Case::sleep) usleep(80000);  // FIRST
}
void nowait() {
  if (g_case == Case::spin) loop_cases::burn_cpu_ms(80);  // NOWAIT
}
void queued_call() {
  if (g_case == Case::call) loop_cases::read_ready_pipe();  // IDLE
}

void qt_first(Case c) {
  ensure_app();
  g_case = c;
  QEventLoop loop;
  QTimer::singleShot(0, [&loop] {
    first_pass();
    loop.quit();
  });
  loop.exec();
}

void qt_nowait(Case c) {
  ensure_app();
  g_case = c;
  QMetaObject::invokeMethod(QCoreApplication::instance(), nowait, Qt::QueuedConnection);
  QCoreApplication::processEvents();
}

void qt_idle(Case c) {
  ensure_app();
  g_case = c;
  QEventLoop loop;
  QMetaObject::invokeMethod(QCoreApplication::instance(), [&loop] {
    queued_call();
    loop.quit();
  }, Qt::QueuedConnection);
  loop.exec();
}

}  // namespace

LOOP_FIRST_PASS_TESTS(Qt, qt_first, qt_nowait, qt_idle)
