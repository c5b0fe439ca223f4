#include "config.hpp"
#include "notices.hpp"

#include <stdexcept>

#include "unclog/watch.hpp"

namespace unclog {
namespace watch {
constinit Config g_config;
}  // namespace watch

namespace {
std::int64_t checked(std::chrono::nanoseconds d, const char* what) {
  if (d.count() <= 0) throw std::invalid_argument(std::string("unclog: ") + what + " must be positive");
  return d.count();
}
}  // namespace

void hub_blocking_detection(bool on, std::chrono::nanoseconds resolution) {
  if (on) watch::config().resolution_ns.store(checked(resolution, "the resolution"));
  watch::config().enabled.store(on);
  watch::config().loop_steps.store(on);
}
bool hub_blocking_detection_enabled() noexcept { return watch::config().enabled.load(); }

void set_resolution(std::chrono::nanoseconds resolution) {
  watch::config().resolution_ns.store(checked(resolution, "the resolution"));
}
std::chrono::nanoseconds resolution() noexcept {
  return std::chrono::nanoseconds(watch::config().resolution_ns.load());
}
void set_hang_timeout(std::chrono::nanoseconds timeout) {
  watch::config().hang_timeout_ns.store(timeout.count() < 0 ? 0 : timeout.count());
}
std::chrono::nanoseconds hang_timeout() noexcept {
  return std::chrono::nanoseconds(watch::config().hang_timeout_ns.load());
}
void set_report_preempted(bool on) noexcept { watch::config().report_preempted.store(on); }
void set_time_detection(bool on) noexcept { watch::config().time_reports.store(on); }
void set_call_detection(bool on) noexcept { watch::config().call_reports.store(on); }
void set_file_io_reports(bool on) noexcept { watch::config().file_io_reports.store(on); }
void set_std_stream_reports(bool on) noexcept { watch::config().std_stream_reports.store(on); }
void set_syscall_detection(bool on) noexcept { watch::config().syscall_traps.store(on); }
bool syscall_detection_enabled() noexcept { return watch::config().syscall_traps.load(); }
std::vector<std::string> watch_limitations() { return watch::notices(); }

const char* to_string(StallKind kind) noexcept {
  switch (kind) {
    case StallKind::blocked: return "blocked";
    case StallKind::cpu: return "cpu";
    case StallKind::preempted: return "preempted";
    case StallKind::call: return "call";
  }
  return "?";
}

}  // namespace unclog
