// File descriptors unclog keeps for itself (a hub's ring or epoll fd, a
// thread's schedstat file) live above a high floor, close-on-exec: never
// 0-2 (a program started with stdin closed would find our ring there),
// never the lowest free number a program's next open() expects.
//
// Thread-safety: any thread. Not async-signal-safe (reads the limit once).
#pragma once

namespace unclog::io {

// Moves `fd` (ours, just opened) to a number at or above the floor with
// F_DUPFD_CLOEXEC and closes the original; returns the new number, or `fd`
// itself when no number up there is free (it stays usable). fd < 0 is
// returned as is.
int keep_fd_high(int fd) noexcept;

}  // namespace unclog::io
