// Reads a thread's scheduler statistics from /proc/self/task/TID/schedstat:
// "on-CPU ns, runqueue-wait ns, timeslices". The file is kept open and read
// with pread at offset 0, which makes the kernel regenerate it.
// Thread-safe for distinct fds. Not async-signal-safe (not needed).
#pragma once
#include <sys/types.h>

#include "step_slot.hpp"

namespace unclog::watch {

int open_schedstat(pid_t tid) noexcept;  // -1 when the kernel has no schedstat
SchedStat read_schedstat(int fd) noexcept;

}  // namespace unclog::watch
