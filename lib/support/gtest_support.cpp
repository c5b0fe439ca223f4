// The glue's window on the library (unclog/detail/gtest_support.hpp): thin
// calls into the layers, so that the glue compiles without our internal
// headers in the user's build.
#include "unclog/detail/gtest_support.hpp"

#include "hub/hub.hpp"
#include "io/backend.hpp"
#include "loops/entry_hooks.hpp"
#include "watch/format.hpp"
#include "watch/sinks.hpp"
#include "watch/trace.hpp"
#include "watch/watch_internal.hpp"

namespace unclog::gtest_support {

std::string backend_env_error() { return io::backend_env_error(); }
std::string format_ms(std::chrono::nanoseconds d) { return watch::format_ms(d); }
std::uint64_t hub_generation() noexcept { return detail::hub_generation(); }
std::vector<std::string> live_fibers_since(std::uint64_t generation) { return detail::live_fibers_since(generation); }
void set_current_test(const char* name) noexcept {
  watch::set_current_test(name);
  loops::refresh_entry_hooks();  // a library loaded since: its loop calls are watched from their first pass
}
void settle_this_thread() noexcept { watch::settle_this_thread(); }
bool tracing() noexcept { return watch::trace::on(); }
std::int64_t trace_now_ns() noexcept { return watch::trace::now_ns(); }
void trace_test(const std::string& name, std::int64_t begin_ns, std::int64_t end_ns) noexcept {
  watch::trace::record_test(name, begin_ns, end_ns);
}
void trace_flush_thread() noexcept { watch::trace::flush_thread(); }

}  // namespace unclog::gtest_support
