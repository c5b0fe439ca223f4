#include "folded.hpp"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>

#include "format.hpp"
#include "visible_mutex.hpp"
#include "base/tsan_sync.hpp"

namespace unclog::watch {
namespace {

struct Folded {
  VisibleMutex mu;
  std::string path;
  std::map<std::string, std::uint64_t> weights;  // stack -> microseconds
};
Folded& folded() {
  return detail::made_once<Folded>();  // reached from the watchdog at a hang exit: never destroyed
}

// Frame names as folded tools read them: no ';' (the separator) and no
// spaces, which some tools split on.
std::string frame_name(const StackFrame& f) {
  std::string n = f.function.empty() ? (f.object.empty() ? "??" : "[" + f.object + "]") : short_name(f.function);
  for (char& c : n) {
    if (c == ';') c = ':';
    if (c == ' ') c = '_';
  }
  return n;
}

// Written to a new file beside the target, then renamed over it: readers
// never see half a file. mkstemp creates the file exclusively under a name
// nobody can guess in advance, so a symlink planted in a shared directory
// (/tmp, with the suite run as root) cannot redirect the write.
void write_locked(Folded& f) {
  std::string tmp = f.path + ".XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) return;
  ::fchmod(fd, 0644);  // as fopen would have created it (mkstemp makes 0600)
  std::FILE* out = ::fdopen(fd, "w");
  if (!out) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return;
  }
  for (const auto& [stack, us] : f.weights) std::fprintf(out, "%s %llu\n", stack.c_str(), static_cast<unsigned long long>(us));
  const bool ok = std::fflush(out) == 0;
  std::fclose(out);
  if (!ok || std::rename(tmp.c_str(), f.path.c_str()) != 0) ::unlink(tmp.c_str());
}

}  // namespace

std::string folded_stack(const BlockingReport& r) {
  std::string out;
  if (r.samples.empty()) return "[no stack]";
  const auto& frames = r.samples.front().frames;
  for (auto it = frames.rbegin(); it != frames.rend(); ++it) {
    if (!out.empty()) out += ';';
    out += frame_name(*it);
  }
  return out.empty() ? "[no stack]" : out;
}

void add_folded(const BlockingReport& r) {
  Folded& f = folded();
  std::lock_guard lk(f.mu);
  if (f.path.empty()) return;
  // An untimed call report lasted less than the resolution: weight 1.
  const auto d = r.kind == StallKind::call && !r.timed ? std::chrono::nanoseconds(0) : r.duration;
  const std::uint64_t us = std::max<std::int64_t>(1, std::chrono::duration_cast<std::chrono::microseconds>(d).count());
  f.weights[folded_stack(r)] += us;
  write_locked(f);
}

}  // namespace unclog::watch

namespace unclog {

bool set_folded_file(const std::string& path, std::string* error) {
  auto& f = watch::folded();
  if (!path.empty()) {
    std::FILE* probe = std::fopen(path.c_str(), "w");  // fails now, not at the first report
    if (!probe) {
      if (error) *error = "cannot open folded-stack file '" + path + "': " + std::strerror(errno);
      return false;
    }
    std::fclose(probe);
  }
  std::lock_guard lk(f.mu);
  f.path = path;
  f.weights.clear();
  return true;
}

}  // namespace unclog
