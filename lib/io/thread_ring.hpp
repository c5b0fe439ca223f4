// The io_uring a thread's hubs share: kept from one hub to the next, closed
// when the thread exits (the main thread's when the process does).
//
// Why not one ring per hub: closing a ring makes the kernel's exit work
// queue task work, with TWA_SIGNAL, on every thread that used it
// (io_ring_exit_work), a few milliseconds later. Whatever blocking call the
// thread makes then is cut short as if by a signal: EINTR from the user's
// epoll_wait, a partial write to a full pipe (tests/hostile's
// NoEintr.RawBlockingWriteIsNotShortened). A thread that keeps its ring
// never gets that work; one that exits takes its rings' cleanup with it.
//
// Thread-safety: each thread's own ring, used by the thread only. A forked
// child drops the ring it inherited (the parent's; the child never used it).
// Not async-signal-safe.
#pragma once
#include <liburing.h>

namespace unclog::io {

// Moves the calling thread's kept ring into `ring` and returns true, or
// returns false when it has none (its first hub, or a hub inside a hub).
bool take_thread_ring(io_uring& ring) noexcept;

// Gives `ring` back for the thread's next hub, after submitting what is
// queued and discarding what completed. `idle`: no request is in flight; a
// ring with requests in flight, or a second one, is closed instead.
void keep_thread_ring(io_uring& ring, bool idle) noexcept;

}  // namespace unclog::io
