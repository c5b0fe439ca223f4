// Where unclog watches less than it was asked to (no syscall traps under
// valgrind, a tracer attached, ...), it says so once per process: a line on
// stderr now, and the same text in the run's summary.
//
// Thread-safety: any thread. Not async-signal-safe (takes a lock, allocates);
// never throws.
#pragma once
#include <string>
#include <vector>

namespace unclog::watch {

// Prints "unclog: <text>" on stderr the first time `text` is given; later
// calls with the same text do nothing.
void notice_once(const std::string& text) noexcept;

// "system calls are not trapped (<why>); call mode sees libc calls only"
void notice_traps_off(const char* why) noexcept;

// Every notice given so far, in order.
std::vector<std::string> notices();

}  // namespace unclog::watch
