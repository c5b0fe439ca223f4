// Symbolization with libbacktrace (the engine of Boost.Stacktrace's
// backtrace backend), every inlined level, cached by pc.
// Thread-safe. Not async-signal-safe.
#pragma once
#include <cstdint>
#include <vector>

#include "unclog/watch.hpp"

namespace unclog::watch {

// pcs are already adjusted (return addresses minus one). One pc may give
// several frames: its inlined levels, innermost first.
std::vector<StackFrame> symbolize(const std::uintptr_t* pcs, int n);

// The first call reads the debug information of every object loaded
// (libbacktrace, ~90 ms for a large test binary, inside dl_iterate_phdr):
// only reports call it, after their step. Code that must not wait for that
// (a loop wait's judgement, on the program's thread) uses this instead:
// false, and nothing done, until a report has read it, or while another
// thread symbolizes.
bool symbolize_if_ready(const std::uintptr_t* pcs, int n, std::vector<StackFrame>* out);

// Whether the process's first symbolize() is reading the debug information
// now: inside dl_iterate_phdr, the loader's list lock held (100-250 ms), so
// another thread's dl_iterate_phdr would wait for it. One atomic load.
bool reading_debug_information() noexcept;

// Fills report.function/user_function/file/line from its first sample.
void locate(BlockingReport& report);

// A C++ symbol's readable name; the name itself when it is not mangled.
std::string demangle(const char* name);

// Path as shown in reports: normalized, relative to unclog's source tree
// when inside it.
std::string display_path(const char* path);

}  // namespace unclog::watch
