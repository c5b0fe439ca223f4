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

// Reads the debug information of every object loaded now (libbacktrace
// does that on its first lookup, ~90 ms for a large test binary), so that
// the first report or loop-wait judgement does not pay it inside a step.
void warm_up_symbolizer() noexcept;

// Fills report.function/user_function/file/line from its first sample.
void locate(BlockingReport& report);

// Path as shown in reports: normalized, relative to unclog's source tree
// when inside it.
std::string display_path(const char* path);

}  // namespace unclog::watch
