// The remedy a report names: what to call instead of the blocking call
// ("unclog::io::resolve() resolves without blocking the hub"), or
// unclog::offload for calls with no green counterpart. Thread-safe.
#pragma once
#include <string>

#include "unclog/watch.hpp"

namespace unclog::watch {

// "" when there is nothing better to say (a CPU hog: the code itself).
std::string hint_for(const BlockingReport& report);

}  // namespace unclog::watch
