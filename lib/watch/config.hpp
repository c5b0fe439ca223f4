// Process-wide detector settings (atomics; read at hub creation and by the
// watchdog at each tick).
#pragma once
#include <atomic>
#include <cstdint>

namespace unclog::watch {

struct Config {
  std::atomic<bool> enabled{false};           // hubs created now mark their steps
  std::atomic<bool> time_reports{true};       // report steps over the resolution
  std::atomic<bool> call_reports{false};      // report blocking calls (call mode)
  std::atomic<bool> file_io_reports{false};   // ... including regular-file I/O
  std::atomic<bool> std_stream_reports{false};// ... including writes to stdout/stderr
  std::atomic<bool> syscall_traps{true};      // ... seen as system calls too (lib/calls/trap.hpp)
  std::atomic<std::int64_t> resolution_ns{1000000000};
  std::atomic<std::int64_t> hang_timeout_ns{0};
  std::atomic<bool> report_preempted{false};
  std::atomic<bool> loop_steps{false};        // event loops' waits mark steps (unclog/loops.hpp)
};
// A constant-initialized global, so reading a setting is one load (call
// mode reads them inside every interposed call of a watched step).
extern constinit Config g_config;
inline Config& config() noexcept { return g_config; }

}  // namespace unclog::watch
