#include "notices.hpp"

#include <cstdio>
#include <mutex>

#include "visible_mutex.hpp"
#include "base/tsan_sync.hpp"

namespace unclog::watch {
namespace {

struct Notices {
  VisibleMutex mu;
  std::vector<std::string> said;
};
Notices& all() {
  return detail::made_once<Notices>();  // never destroyed: threads may outlive statics
}

}  // namespace

void notice_once(const std::string& text) noexcept {
  Notices& n = all();
  std::lock_guard lk(n.mu);
  for (const std::string& s : n.said) {
    if (s == text) return;
  }
  try {
    n.said.push_back(text);
  } catch (...) {  // out of memory: said on stderr all the same, missing from the summary
  }
  std::fprintf(stderr, "unclog: %s\n", text.c_str());
}

void notice_traps_off(const char* why) noexcept {
  try {
    notice_once(std::string("system calls are not trapped (") + why + "); call mode sees libc calls only");
  } catch (...) {
  }
}

std::vector<std::string> notices() {
  Notices& n = all();
  std::lock_guard lk(n.mu);
  return n.said;
}

}  // namespace unclog::watch
