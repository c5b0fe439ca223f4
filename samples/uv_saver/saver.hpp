// A libuv sample: a timer saves a counter to a file every few ticks. Two
// ways to save: sync (open/write/fsync in the callback: blocks the loop)
// and async (uv_fs_* on libuv's thread pool). unclog needs no code here:
// libuv's waits make each batch of callbacks a watched step.
#pragma once
#include <string>

namespace saver {

enum class Save { sync, async };

// Runs a loop with a 5 ms timer for `ticks` ticks, saving the tick count to
// `path` every 3rd tick the given way. Returns the last value saved.
int run_ticker(const std::string& path, int ticks, Save how);

}  // namespace saver
