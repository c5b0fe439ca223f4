// The flame graph of blocked time: every report's stack in the folded
// format (`outermost;...;innermost weight`, weight in microseconds of the
// step's blocked time, at least 1 for a call report that was not timed),
// summed over the run by stack. The input of flamegraph.pl, inferno and
// speedscope. The file is rewritten whole (to a temporary, then renamed)
// after each report, so it is complete whenever the process ends, a hang
// exit or a crash included. Thread-safe.
#pragma once
#include <string>

#include "unclog/watch.hpp"

namespace unclog::watch {

void add_folded(const BlockingReport& r);

// The folded line's stack part for `r` (outermost first, ';'-separated, no
// spaces or semicolons inside frames). Exposed for tests.
std::string folded_stack(const BlockingReport& r);

}  // namespace unclog::watch
