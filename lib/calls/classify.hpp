// Call mode's one classification, shared by the interposed libc functions
// (interpose.cpp) and the trapped system calls (trap.cpp): is a watched step
// running on this thread, can this call block, and how is it described in a
// report ("read(fd 5: pipe, blocking, 4096 bytes)").
//
// Everything here runs on the calling thread, inside the call; nothing
// allocates or takes a lock, so the SIGSYS handler may use it too (its
// system calls, fstat and fcntl, go through: the handler lets them).
// errno is preserved.
#pragma once
#include <cstddef>

#include "watch/config.hpp"
#include "watch/sampler.hpp"
#include "watch/step_slot.hpp"

namespace unclog::calls {

// Nonzero while our own code (InternalScope) makes calls on a watched thread.
extern __attribute__((tls_model("initial-exec"))) constinit thread_local int t_internal;

// The slot of a watched step running now on this thread (outside
// AllowBlocking and our own internal calls), or null. On a thread with no
// watched step: one TLS load and a branch.
inline watch::StepSlot* in_watched_step() noexcept {
  watch::StepSlot* s = watch::t_bound_slot;
  if (!s) [[likely]] return nullptr;
  if (!(s->seq.load(std::memory_order_relaxed) & 1)) return nullptr;
  if (t_internal || s->allow_depth.load(std::memory_order_relaxed) > 0) return nullptr;
  if (!watch::loop_step_still_running(*s)) [[unlikely]] return nullptr;  // its loop has returned
  return s;
}

// The same, when call mode is on too: where calls are judged.
inline watch::StepSlot* watching() noexcept {
  watch::StepSlot* s = in_watched_step();
  if (!s || !watch::config().call_reports.load(std::memory_order_relaxed)) return nullptr;
  return s;
}

// Records a blocking call of the running step: `what`, printf-style, and the
// stack from the caller (skip frames more). `trapped`: seen as a system call.
void record(watch::StepSlot* s, bool trapped, const char* fmt, ...) noexcept __attribute__((format(printf, 3, 4)));

// An fd-based call (read, write, recv, ...): when it can block under the
// current settings, fills `what` and returns true. `write_side`: the call
// writes (stdout/stderr are allowed unless asked for).
bool blocking_fd_call(const char* call, int fd, std::size_t bytes, bool write_side, char* what,
                      std::size_t size) noexcept;

// A system call by number with its six raw arguments, as the kernel would
// see it: when it can block, fills `what` and returns true. The families and
// their rules are in classify.cpp.
bool blocking_syscall(long nr, const long args[6], char* what, std::size_t size) noexcept;

}  // namespace unclog::calls
