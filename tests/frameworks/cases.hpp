// What the Catch2 and doctest suites' test cases do. Lines where a report
// must point end with a marker check_frameworks.py looks for.
#pragma once
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <cstdint>
#include <functional>

#include "unclog/unclog.hpp"

namespace cases {

inline std::int64_t thread_cpu_ns() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return std::int64_t(t.tv_sec) * 1000000000 + t.tv_nsec;
}

// CPU time of this thread, not wall time: a loaded machine burns the same.
inline void burn_cpu_ms(int ms) {
  volatile std::uint64_t x = 0;
  const std::int64_t end = thread_cpu_ns() + std::int64_t(ms) * 1000000;
  while (thread_cpu_ns() < end) {
    for (int i = 0; i < 100000; ++i) x = x + i;
  }
}

// A read that returns at once from a blocking pipe: fast, still blocking.
inline void read_ready_pipe() {
  int p[2];
  if (pipe(p) != 0) return;
  char c = 'x';
  (void)!write(p[1], &c, 1);
  (void)!read(p[0], &c, 1);
  close(p[0]);
  close(p[1]);
}

inline void yield_a_few() {
  for (int i = 0; i < 3; ++i) unclog::yield();
}

// A libuv loop whose 0 ms timer runs `f`: the loop's first pass.
inline void run_uv_timer(void (*f)()) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  uv_timer_t t;
  uv_timer_init(&loop, &t);
  t.data = reinterpret_cast<void*>(f);
  uv_timer_start(&t, [](uv_timer_t* h) { reinterpret_cast<void (*)()>(h->data)(); }, 0, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_close(reinterpret_cast<uv_handle_t*>(&t), nullptr);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
}

}  // namespace cases
