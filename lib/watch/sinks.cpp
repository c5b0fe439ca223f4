#include "sinks.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "folded.hpp"
#include "trace.hpp"
#include "visible_mutex.hpp"
#include "base/tsan_sync.hpp"

namespace unclog::watch {
namespace {

struct Place {
  std::uint64_t printed = 0;
  std::uint64_t suppressed = 0;
};

struct Sinks {
  VisibleMutex mu;
  std::vector<std::pair<int, ReportSink>> callbacks;
  int next_id = 1;
  std::atomic<bool> to_stderr{true};
  std::FILE* json = nullptr;
  std::function<void(const BlockingReport&)> hang_handler;
  std::map<std::string, Place> places;  // rate limiting of the stderr sink
  bool summary_registered = false;
};

Sinks& sinks() {
  return detail::made_once<Sinks>();  // used from atexit and the watchdog: never destroyed
}

// Per place (file:line, else function), the first kPerPlace reports are
// printed; the rest are counted and the count printed with the next printed
// one and at exit.
constexpr std::uint64_t kPerPlace = 3;

void print_suppressed_summary() {
  Sinks& s = sinks();
  std::lock_guard lk(s.mu);
  for (auto& [where, place] : s.places) {
    if (place.suppressed) {
      std::fprintf(stderr, "unclog: %llu more blocking report(s) at %s were suppressed\n",
                   static_cast<unsigned long long>(place.suppressed), where.c_str());
      place.suppressed = 0;
    }
  }
}

std::string place_of(const BlockingReport& r) {
  if (!r.file.empty()) return r.file + ":" + std::to_string(r.line);
  return r.function.empty() ? "an unknown place" : r.function;
}

void to_stderr_throttled(Sinks& s, const BlockingReport& r) {
  std::string text;
  {
    std::lock_guard lk(s.mu);
    if (!s.summary_registered) {
      s.summary_registered = true;
      std::atexit(print_suppressed_summary);
    }
    Place& p = s.places[place_of(r)];
    if (!r.hang && p.printed >= kPerPlace) {
      ++p.suppressed;
      return;
    }
    ++p.printed;
    text = r.text();
    if (p.printed == kPerPlace) text += "\n  (further reports from this place are counted, not printed)";
  }
  std::fprintf(stderr, "%s\n", text.c_str());
}

thread_local std::uint64_t t_reports = 0;
std::atomic<const char*> g_test{nullptr};

}  // namespace

void set_current_test(const char* name) noexcept { g_test.store(name); }
const char* current_test() noexcept { return g_test.load(); }

void dispatch(BlockingReport& r) {
  Sinks& s = sinks();
  if (r.test.empty()) {
    if (const char* t = current_test()) r.test = t;  // else stamped when its step was deferred
  }
  ++t_reports;
  add_folded(r);
  if (trace::on()) {
    trace::record_report(r, r.hang ? 0 : trace::t_track);
    trace::flush_thread();
  }
  if (s.to_stderr.load()) to_stderr_throttled(s, r);
  std::vector<ReportSink> callbacks;
  {
    std::lock_guard lk(s.mu);
    if (s.json) {
      std::fprintf(s.json, "%s\n", r.json().c_str());
      std::fflush(s.json);
    }
    for (auto& [id, cb] : s.callbacks) callbacks.push_back(cb);
  }
  for (auto& cb : callbacks) cb(r);
}

void report_hang(BlockingReport& r) {
  r.hang = true;
  dispatch(r);
  std::string line = "unclog: hang: fiber \"" + r.fiber + "\" has held the loop for " +
                     std::to_string(r.duration.count() / 1000000) + " ms (hang timeout " +
                     std::to_string(hang_timeout().count() / 1000000) + " ms)";
  if (!r.file.empty()) line += " at " + r.file + ":" + std::to_string(r.line);
  if (!r.function.empty()) line += " in " + r.function;
  if (!r.test.empty()) line += ", test " + r.test;
  std::fprintf(stderr, "%s; exiting\n", line.c_str());
  Sinks& s = sinks();
  std::function<void(const BlockingReport&)> handler;
  {
    std::lock_guard lk(s.mu);
    handler = s.hang_handler;
    if (s.json) std::fflush(s.json);
  }
  if (handler) handler(r);
  std::fflush(stdout);
  std::fflush(stderr);
  _exit(1);
}

}  // namespace unclog::watch

namespace unclog {

int add_report_sink(ReportSink sink) {
  auto& s = watch::sinks();
  std::lock_guard lk(s.mu);
  s.callbacks.emplace_back(s.next_id, std::move(sink));
  return s.next_id++;
}

void remove_report_sink(int id) {
  auto& s = watch::sinks();
  std::lock_guard lk(s.mu);
  std::erase_if(s.callbacks, [id](const auto& p) { return p.first == id; });
}

void set_stderr_reports(bool on) noexcept { watch::sinks().to_stderr.store(on); }

bool set_json_report_file(const std::string& path, std::string* error) {
  auto& s = watch::sinks();
  std::FILE* f = nullptr;
  if (!path.empty()) {
    f = std::fopen(path.c_str(), "a");
    if (!f) {
      if (error) *error = "cannot open report file '" + path + "': " + std::strerror(errno);
      return false;
    }
  }
  std::lock_guard lk(s.mu);
  if (s.json) std::fclose(s.json);
  s.json = f;
  return true;
}

void set_hang_handler(std::function<void(const BlockingReport&)> handler) {
  auto& s = watch::sinks();
  std::lock_guard lk(s.mu);
  s.hang_handler = std::move(handler);
}

std::uint64_t blocking_report_count() noexcept { return watch::t_reports; }

}  // namespace unclog
