// Process-wide detector settings (atomics; read at hub creation and by the
// watchdog at each tick).
#pragma once
#include <atomic>
#include <cstdint>

namespace unclog::watch {

struct Config {
  std::atomic<bool> enabled{false};
  std::atomic<std::int64_t> resolution_ns{1000000000};
  std::atomic<std::int64_t> hang_timeout_ns{0};
  std::atomic<bool> report_preempted{false};
};
Config& config() noexcept;

}  // namespace unclog::watch
