#include "trace.hpp"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <set>
#include <vector>

#include "base/clock.hpp"
#include "format.hpp"
#include "visible_mutex.hpp"
#include "base/tsan_sync.hpp"

namespace unclog::watch::trace {

std::atomic<bool> g_on{false};
thread_local std::uint64_t t_track = 0;

namespace {

using watch::json_escape;

constexpr char kClose[] = "\n]}\n";
constexpr std::uint64_t kTestsTrack = 1;

struct File {
  VisibleMutex mu;
  int fd = -1;
  off_t end = 0;        // where the next events go (the closing "]}" is there)
  bool first = true;    // no event written yet
  std::size_t ring_steps = 8192;
  std::set<std::uint64_t> named;  // tracks whose name is already in the file
};
File& file() {
  return detail::made_once<File>();  // used at exit and by the watchdog at a hang: never destroyed
}

struct Event {
  enum Kind : std::uint8_t { step, wait, pass } kind;
  std::int64_t begin, end;
  std::uint64_t track;
  const char* runner;  // null for a fiber's step; else the loop's runner (a literal)
  char name[40];
};

// This thread's ring of events not yet flushed, and other events (reports,
// tests), already formatted.
struct Ring {
  std::vector<Event> events;
  std::size_t next = 0, count = 0;
  std::string pending;  // formatted events
  pid_t tid = 0;
  ~Ring();              // a thread's last events are written as it exits
};
thread_local Ring t_ring;
// The last step recorded on this thread: a report raised for it is drawn
// ending where the step ended, not when the report was built.
thread_local std::uint64_t t_last_track = 0;
thread_local std::int64_t t_last_end = 0;

// Out of memory, the thread records no steps (its reports still go out).
Ring& ring() noexcept {
  Ring& r = t_ring;
  if (r.events.empty()) {
    try {
      r.events.resize(file().ring_steps);
    } catch (...) {
    }
    r.tid = gettid();
  }
  return r;
}


// Microseconds with a fraction, as the format takes them.
std::string us(std::int64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(ns) / 1000.0);
  return buf;
}

std::string slice(const std::string& name, std::uint64_t track, std::int64_t begin, std::int64_t end,
                  const std::string& args = "") {
  std::string e = "{\"name\":\"" + json_escape(name) + "\",\"ph\":\"X\",\"pid\":" + std::to_string(getpid()) +
                  ",\"tid\":" + std::to_string(track) + ",\"ts\":" + us(begin) + ",\"dur\":" + us(end - begin);
  if (!args.empty()) e += ",\"args\":{" + args + "}";
  return e + "}";
}

std::string track_name(std::uint64_t track, const std::string& name) {
  return "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":" + std::to_string(getpid()) + ",\"tid\":" +
         std::to_string(track) + ",\"args\":{\"name\":\"" + json_escape(name) + "\"}}";
}

// Appends formatted events (comma-joined, no leading comma) and the closing
// bracket in one write, so the file is valid JSON after it. Under f.mu.
void append_locked(File& f, const std::string& events) {
  if (f.fd < 0 || events.empty()) return;
  std::string chunk = (f.first ? "\n" : ",\n") + events;
  const std::string with_close = chunk + kClose;
  if (::pwrite(f.fd, with_close.data(), with_close.size(), f.end) == static_cast<ssize_t>(with_close.size())) {
    f.end += static_cast<off_t>(chunk.size());
    f.first = false;
  }
}

void add(std::string& to, const std::string& event) {
  if (!to.empty()) to += ",\n";
  to += event;
}

// Names a track the first time the file sees it. Under f.mu.
void name_track_locked(File& f, std::string& out, std::uint64_t track, const std::string& name) {
  if (f.named.insert(track).second) add(out, track_name(track, name));
}

}  // namespace

std::int64_t now_ns() noexcept { return detail::monotonic_ns(); }

namespace {
void record_step_on(std::uint64_t track, const char* runner, const char* name, std::int64_t begin,
                    std::int64_t end) noexcept {
  Ring& r = ring();
  if (r.events.empty()) return;
  Event& e = r.events[r.next];
  e.kind = Event::step;
  e.runner = runner;
  e.begin = begin;
  e.end = end;
  e.track = track;
  std::strncpy(e.name, name ? name : "", sizeof e.name - 1);
  e.name[sizeof e.name - 1] = '\0';
  r.next = (r.next + 1) % r.events.size();
  if (r.count < r.events.size()) ++r.count;
  t_last_track = track;
  t_last_end = end;
}
}  // namespace

void prepare_thread() noexcept { ring(); }

void record_step(std::uint64_t track, const char* name, std::int64_t begin, std::int64_t end) noexcept {
  record_step_on(track, nullptr, name, begin, end);
}

std::uint64_t record_loop_step(const char* runner, const char* name, std::int64_t begin, std::int64_t end) noexcept {
  // Above every fiber's and hub's track number: one per thread and runner.
  const std::uint64_t kind = std::strcmp(runner, "asio handler") == 0 ? 1 : 2;
  const std::uint64_t track = (kind << 40) | static_cast<std::uint64_t>(ring().tid);
  record_step_on(track, runner, name, begin, end);
  return track;
}

namespace {
void record_hub(Event::Kind kind, std::int64_t begin, std::int64_t end) noexcept {
  Ring& r = ring();
  if (r.events.empty()) return;
  Event& e = r.events[r.next];
  e.kind = kind;
  e.begin = begin;
  e.end = end;
  e.runner = nullptr;
  e.track = static_cast<std::uint64_t>(r.tid);
  e.name[0] = '\0';
  r.next = (r.next + 1) % r.events.size();
  if (r.count < r.events.size()) ++r.count;
}
}  // namespace

void record_wait(std::int64_t begin, std::int64_t end) noexcept { record_hub(Event::wait, begin, end); }
void record_pass(std::int64_t begin, std::int64_t end) noexcept {
  if (begin > 0) record_hub(Event::pass, begin, end);
}

void record_report(const BlockingReport& r, std::uint64_t track) noexcept {
  try {
    Ring& ring_ = ring();
    const std::int64_t end = track && track == t_last_track ? t_last_end : now_ns();
    const std::int64_t begin = end - r.duration.count();
    std::string args = "\"kind\":\"" + std::string(to_string(r.kind)) + "\",\"duration_ms\":" +
                       us(r.duration.count() / 1000) + ",\"call\":\"" + json_escape(r.call) + "\",\"where\":\"" +
                       json_escape(r.file.empty() ? r.function : r.file + ":" + std::to_string(r.line)) +
                       "\",\"function\":\"" + json_escape(short_name(r.user_function.empty() ? r.function : r.user_function)) +
                       "\",\"fiber\":\"" + json_escape(r.fiber) + "\"";
    add(ring_.pending, slice("blocking (" + std::string(to_string(r.kind)) + ")", track ? track : ring_.tid, begin,
                             std::max(end, begin + 1000), args));
  } catch (...) {
  }
}

void record_test(const std::string& name, std::int64_t begin, std::int64_t end) noexcept {
  try {
    add(ring().pending, slice(name, kTestsTrack, begin, end));
  } catch (...) {
  }
}

namespace {
void flush(Ring& r) noexcept {
  try {
    File& f = file();
    std::lock_guard lk(f.mu);
    std::string out;
    name_track_locked(f, out, kTestsTrack, "tests");
    name_track_locked(f, out, static_cast<std::uint64_t>(r.tid), "hub (thread " + std::to_string(r.tid) + ")");
    const std::size_t n = r.events.size();
    for (std::size_t i = 0; i < r.count; ++i) {
      const Event& e = r.events[(r.next + n - r.count + i) % n];
      if (e.kind == Event::step) {
        name_track_locked(f, out, e.track,
                          e.runner ? std::string(e.runner) + "s (thread " + std::to_string(r.tid) + ")"
                                   : std::string("fiber ") + e.name);
        add(out, slice(e.name, e.track, e.begin, e.end));
      } else {
        add(out, slice(e.kind == Event::wait ? "wait for I/O" : "pass", e.track, e.begin, e.end));
      }
    }
    r.count = 0;
    if (!r.pending.empty()) add(out, r.pending);
    r.pending.clear();
    append_locked(f, out);
  } catch (...) {
  }
}

Ring::~Ring() {
  if (on() && (count || !pending.empty())) flush(*this);
}
}  // namespace

void flush_thread() noexcept { flush(ring()); }

}  // namespace unclog::watch::trace

namespace unclog {

bool set_trace_file(const std::string& path, std::size_t ring_steps, std::string* error) {
  auto& f = watch::trace::file();
  watch::trace::g_on.store(false);
  std::lock_guard lk(f.mu);
  if (f.fd >= 0) ::close(f.fd);
  f.fd = -1;
  f.named.clear();
  if (path.empty()) return true;
  f.fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (f.fd < 0) {
    if (error) *error = "cannot open trace file '" + path + "': " + std::strerror(errno);
    return false;
  }
  const std::string head = "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[";
  const std::string with_close = head + watch::trace::kClose;
  if (::pwrite(f.fd, with_close.data(), with_close.size(), 0) != static_cast<ssize_t>(with_close.size())) {
    if (error) *error = "cannot write trace file '" + path + "': " + std::strerror(errno);
    ::close(f.fd);
    f.fd = -1;
    return false;
  }
  f.end = static_cast<off_t>(head.size());
  f.first = true;
  f.ring_steps = std::max<std::size_t>(16, ring_steps);
  watch::trace::g_on.store(true);
  return true;
}

}  // namespace unclog
