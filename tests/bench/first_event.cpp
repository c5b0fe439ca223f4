// What a test program sees of unclog's start-up: built twice, with
// GoogleTest's own main and plain Asio, and with unclog's main and
// unclog-asio (tests/bench/meson.build). Each run is a fresh process whose
// first test arms a 1 ms timer on a fresh io_context, and one on a fresh
// libuv loop whose callback queues a job on libuv's thread pool (its
// workers start then), and prints how late each came:
//   first-event ms: asio A libuv B
// tests/bench/run compares the two builds (first_event_added_ms) and the
// wall time of 20 runs of each (loop_suite_unclog_vs_gtest).
#include <gtest/gtest.h>
#include <uv.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdio>

namespace {

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

double asio_first_timer() {
  boost::asio::io_context io;
  boost::asio::steady_timer timer(io, std::chrono::milliseconds(1));
  const auto start = std::chrono::steady_clock::now();
  double late = -1;
  timer.async_wait([&](const boost::system::error_code&) { late = ms_since(start) - 1.0; });
  io.run();
  return late;
}

struct UvRun {
  std::chrono::steady_clock::time_point start;
  double late = -1;
  bool worked = false;
};

double uv_first_timer() {
  uv_loop_t loop;
  uv_loop_init(&loop);
  UvRun run;
  uv_timer_t timer;
  uv_timer_init(&loop, &timer);
  timer.data = &run;
  uv_work_t work;
  work.data = &run;
  run.start = std::chrono::steady_clock::now();
  uv_timer_start(
      &timer,
      [](uv_timer_t* t) {
        auto* r = static_cast<UvRun*>(t->data);
        r->late = ms_since(r->start) - 1.0;
        uv_close(reinterpret_cast<uv_handle_t*>(t), nullptr);
      },
      1, 0);
  uv_queue_work(
      &loop, &work, [](uv_work_t* w) { static_cast<UvRun*>(w->data)->worked = true; }, [](uv_work_t*, int) {});
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  EXPECT_TRUE(run.worked);
  return run.late;
}

}  // namespace

TEST(FirstEvent, TimersComeOnTime) {
  const double asio = asio_first_timer();
  const double uv = uv_first_timer();
  std::printf("first-event ms: asio %.3f libuv %.3f\n", asio, uv);
  EXPECT_GE(asio, 0);
  // libuv's clock counts whole milliseconds from the loop's last update, so
  // its 1 ms timer may fire up to 1 ms before ours says 1 ms has passed
  // (-0.13 is typical); the test failed one run in three when this said 0.
  EXPECT_GE(uv, -1.0);
}

// The rest of a typical libuv test binary: loops run to completion, one
// after another (about 20 ms of timers), so that the suite figure weighs
// start-up as a real suite's binaries do.
TEST(LibuvSuite, LoopsRunOneAfterAnother) {
  for (int i = 0; i < 15; ++i) EXPECT_GE(uv_first_timer(), -1.0);
}
