// Loop steps' cost on a libuv ping-pong: two poll handles on one loop, one
// on each end of a socketpair, bouncing a byte. Detection is on in both
// runs (as under our gtest main); only loop steps are switched, so the
// ratio is what watching each batch of callbacks costs: two stores and a
// load per wait, the call site's verdict from a cache.
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "bench_util.hpp"
#include "unclog/unclog.hpp"

namespace {

constexpr long kRoundTrips = 100000;

struct PingPong {
  int fds[2];
  long left = kRoundTrips;
  uv_loop_t loop;
  uv_poll_t ends[2];
};

void on_readable(uv_poll_t* h, int, int) {
  auto* p = static_cast<PingPong*>(h->data);
  const int side = h == &p->ends[0] ? 0 : 1;
  char c;
  if (read(p->fds[side], &c, 1) != 1) return;
  if (side == 0 && --p->left == 0) {
    uv_poll_stop(&p->ends[0]);
    uv_poll_stop(&p->ends[1]);
    return;
  }
  (void)!write(p->fds[side], &c, 1);  // back to the other end
}

double round_trips_per_second() {
  PingPong p;
  socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, p.fds);
  uv_loop_init(&p.loop);
  for (int i = 0; i < 2; ++i) {
    uv_poll_init(&p.loop, &p.ends[i], p.fds[i]);
    p.ends[i].data = &p;
    uv_poll_start(&p.ends[i], UV_READABLE, on_readable);
  }
  const double rate = bench::per_second(kRoundTrips, [&] {
    char c = 'x';
    (void)!write(p.fds[0], &c, 1);
    uv_run(&p.loop, UV_RUN_DEFAULT);
  });
  for (auto& h : p.ends) uv_close(reinterpret_cast<uv_handle_t*>(&h), nullptr);
  uv_run(&p.loop, UV_RUN_DEFAULT);
  uv_loop_close(&p.loop);
  close(p.fds[0]);
  close(p.fds[1]);
  return rate;
}

}  // namespace

int main() {
  unclog::hub_blocking_detection(true, std::chrono::seconds(1));
  double on = 0, off = 0;
  for (int round = 0; round < 7; ++round) {  // best of seven, alternating
    unclog::set_loop_steps(false);
    off = std::max(off, round_trips_per_second());
    unclog::set_loop_steps(true);
    on = std::max(on, round_trips_per_second());
  }
  std::printf("libuv ping-pong round trips/s (detection on): loop steps off %.0f, on %.0f\n", off, on);
  bench::ratio("loop_pingpong_steps_on_vs_off", on / off, ">=", 0.97);
  return 0;
}
