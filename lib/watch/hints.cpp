#include "hints.hpp"

#include <string_view>
#include <utility>

namespace unclog::watch {
namespace {

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

constexpr std::string_view kOffload = "run it with unclog::offload(...): only the calling fiber waits";

// By the call's name, as call mode describes it ("read(fd 5: pipe, ...)").
std::string for_call(std::string_view call) {
  const std::string_view name = call.substr(0, call.find('('));
  const bool on_file = call.find(": file") != std::string_view::npos;
  if (name == "getaddrinfo" || starts_with(name, "gethostbyname") || name == "getnameinfo") {
    return "unclog::io::resolve() resolves without blocking the hub";
  }
  if (name == "sleep" || name == "usleep" || name == "nanosleep" || name == "clock_nanosleep") {
    return "unclog::sleep_for() sleeps without blocking the hub";
  }
  if (name == "fsync" || name == "fdatasync") {
    return "unclog::io::" + std::string(name) + "() syncs on io_uring without blocking the hub";
  }
  if (name == "open" || name == "openat" || name == "openat2") {
    return "unclog::io::open() opens on io_uring without blocking the hub";
  }
  if (on_file && (name == "read" || name == "pread64" || name == "write" || name == "pwrite64")) {
    return "unclog::io::pread()/pwrite() read and write files on io_uring without blocking the hub";
  }
  // The libc call, and the green call that does what it does.
  constexpr std::pair<std::string_view, std::string_view> kGreen[] = {
      {"read", "read"},     {"write", "write"},   {"recv", "recv"},         {"recvfrom", "recv"},
      {"send", "send"},     {"sendto", "send"},   {"accept", "accept"},     {"accept4", "accept"},
      {"connect", "connect"},
  };
  for (const auto& [libc, green] : kGreen) {
    if (name == libc) return "unclog::io::" + std::string(green) + "() waits for the fd without blocking the hub";
  }
  if (name == "poll" || name == "ppoll" || name == "select" || name == "pselect6" || starts_with(name, "epoll_")) {
    return "unclog::io::poll(fd, events) waits for one fd without blocking the hub";
  }
  if (starts_with(name, "pthread_mutex_lock")) return "unclog::Mutex waits without blocking the hub";
  return std::string(kOffload);
}

bool is_sleep(std::string_view call) {
  const std::string_view name = call.substr(0, call.find('('));
  return name == "sleep" || name == "usleep" || name == "nanosleep" || name == "clock_nanosleep";
}

bool names_a_lock(std::string_view what) {
  return what.find("mutex_lock") != std::string_view::npos || what.find("rwlock_") != std::string_view::npos ||
         what.find("FUTEX_LOCK_PI") != std::string_view::npos || what.find("lll_lock_wait") != std::string_view::npos;
}

// A call report's call; a time stall's frames from the innermost to the
// user's: the lock may be taken deep inside what the user called (Asio's
// scheduler lock inside async_read_some).
bool is_lock_wait(const BlockingReport& r) {
  if (r.kind == StallKind::call) return names_a_lock(r.call);
  if (r.samples.empty()) return names_a_lock(r.function);
  for (const StackFrame& f : r.samples.front().frames) {
    if (f.user) break;
    if (names_a_lock(f.function)) return true;
  }
  return false;
}

// Outside the hub: the loop's own way of moving work off its thread; for a
// lock, its way of not sharing state across threads (never an I/O call).
std::string for_loop(const BlockingReport& r, const char* const hints[4]) {
  if (r.kind == StallKind::cpu) return hints[2] ? hints[2] : "";
  if (is_lock_wait(r)) return hints[3] ? hints[3] : "";
  if (r.kind == StallKind::call ? is_sleep(r.call) : r.function.find("sleep") != std::string::npos) {
    return hints[1] ? hints[1] : "";
  }
  return hints[0] ? hints[0] : "";
}

}  // namespace

const char* const kOwnLoopHints[4] = {
    "run it on a worker thread and hand the result back to the loop",
    "a timer of the loop waits without blocking it",
    "run CPU-heavy work on a worker thread and hand the result back to the loop",
    "hand the work to the loop thread instead of sharing it under a lock",
};

std::string hint_for(const BlockingReport& r, const char* const loop_hints[4]) {
  if (loop_hints && loop_hints[0]) return for_loop(r, loop_hints);
  if (r.kind == StallKind::call) return for_call(r.call);
  if (r.kind == StallKind::cpu) return "move the computation off the hub: " + std::string(kOffload);
  if (r.kind != StallKind::blocked) return "";  // preempted: the machine
  // A time stall: by the blocking function the samples show.
  const std::string& f = r.function;
  if (f.find("sleep") != std::string::npos) return for_call("nanosleep");
  return std::string(kOffload);
}

}  // namespace unclog::watch
