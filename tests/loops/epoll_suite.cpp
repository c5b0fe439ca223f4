// A hand-written epoll loop over timerfds: marked with unclog::LoopWait, or
// named in UNCLOG_LOOP_FUNCTIONS (the checker sets named_epoll_loop).
#include <sys/epoll.h>
#include <sys/timerfd.h>

#include <functional>
#include <vector>

#include "loop_cases.hpp"
#include "unclog/loops.hpp"

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

struct Timers {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  std::vector<std::pair<int, std::function<void()>>> fds;

  void add(int ms, std::function<void()> f) {
    const int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    itimerspec it{};
    it.it_value.tv_nsec = (ms % 1000) * 1000000L;
    it.it_value.tv_sec = ms / 1000;
    timerfd_settime(fd, 0, &it, nullptr);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<unsigned>(fds.size());
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    fds.emplace_back(fd, std::move(f));
  }
  void dispatch(const epoll_event* evs, int n, int& left) {
    for (int i = 0; i < n; ++i) {
      auto& [fd, f] = fds[evs[i].data.u32];
      std::uint64_t ticks;
      (void)!read(fd, &ticks, sizeof ticks);
      f();
      --left;
    }
  }
  ~Timers() {
    for (auto& [fd, f] : fds) close(fd);
    close(ep);
  }
};

void marked_epoll_loop(Timers& t) {
  int left = static_cast<int>(t.fds.size());
  epoll_event evs[8];
  while (left > 0) {
    int n;
    {
      unclog::LoopWait wait("epoll loop");
      n = epoll_wait(t.ep, evs, 8, -1);
    }
    t.dispatch(evs, n, left);
  }
}

__attribute__((noinline)) void named_epoll_loop(Timers& t) {
  int left = static_cast<int>(t.fds.size());
  epoll_event evs[8];
  while (left > 0) {
    const int n = epoll_wait(t.ep, evs, 8, -1);
    t.dispatch(evs, n, left);
  }
}

// A timer at 10 ms does the case's work; another at 30 ms (150 ms when
// clean) ends the loop after one more wait.
template <void (*loop)(Timers&)>
void run_loop(Case c) {
  g_case = c;
  Timers t;
  t.add(10, on_timer);
  t.add(c == Case::clean ? 150 : 30, [] {});
  loop(t);
}
constexpr auto run_marked = run_loop<marked_epoll_loop>;
constexpr auto run_named = run_loop<named_epoll_loop>;

}  // namespace

LOOP_CASE_TESTS(EpollLoopWait, run_marked)
LOOP_CASE_TESTS(EpollNamed, run_named)
