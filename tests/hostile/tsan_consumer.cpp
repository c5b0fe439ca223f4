// A ThreadSanitizer program built against the normal libunclog: timer
// signals all along, siglongjmp out of a handler, and loops of system calls
// in watched steps. Traps must stay off (TSan defers signals; a trapped
// call's SIGSYS must be handled at once), with the notice, and the program
// must run to its end with every planted blocking call reported.
#include <setjmp.h>
#include <signal.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>

#include "unclog/unclog.hpp"

namespace {
sigjmp_buf g_env;
std::atomic<int> g_ticks{0};
void on_alarm(int) { g_ticks.fetch_add(1, std::memory_order_relaxed); }
void on_usr1(int) { siglongjmp(g_env, 1); }
}  // namespace

int main() {
  unclog::set_stderr_reports(false);
  unclog::set_call_detection(true);
  unclog::hub_blocking_detection(true, std::chrono::milliseconds(50));
  std::atomic<int> reports{0};
  unclog::add_report_sink([&](const unclog::BlockingReport&) { reports.fetch_add(1); });
  signal(SIGALRM, on_alarm);
  signal(SIGUSR1, on_usr1);
  itimerval every_ms{{0, 1000}, {0, 1000}};
  setitimer(ITIMER_REAL, &every_ms, nullptr);
  int jumps = 0;
  constexpr int kRounds = 200;
  for (int i = 0; i < kRounds; ++i) {
    unclog::run([&] {
      for (int j = 0; j < 50; ++j) (void)getppid();
      if (sigsetjmp(g_env, 1) == 0) raise(SIGUSR1); else ++jumps;
      unclog::yield();
      usleep(100);  // planted: one call report per run
    });
  }
  itimerval off{};
  setitimer(ITIMER_REAL, &off, nullptr);
  std::printf("rounds %d jumps %d reports %d ticks %d\n", kRounds, jumps, reports.load(), g_ticks.load());
  return jumps == kRounds && reports.load() == kRounds ? 0 : 1;
}
