#include "thread_ring.hpp"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <mutex>

namespace unclog::io {
namespace {

struct KeptRing {
  io_uring ring{};
  bool kept = false;
  ~KeptRing() {
    // A thread that exits is past the calls the exit work could cut; the
    // main thread's ring is left to the process's exit, which closes it
    // after every destructor and atexit handler has run.
    if (kept && syscall(SYS_gettid) != getpid()) io_uring_queue_exit(&ring);
  }
};
thread_local KeptRing t_kept;

void forget_in_child() {
  // The parent's ring, mapped and open here too: unmapped and closed in the
  // child only (the parent keeps it open, so the kernel does nothing).
  if (t_kept.kept) io_uring_queue_exit(&t_kept.ring);
  t_kept.kept = false;
}

void register_fork_handler() {
  static std::once_flag once;
  std::call_once(once, [] { pthread_atfork(nullptr, nullptr, forget_in_child); });
}

}  // namespace

bool take_thread_ring(io_uring& ring) noexcept {
  if (!t_kept.kept) return false;
  ring = t_kept.ring;
  t_kept.kept = false;
  return true;
}

void keep_thread_ring(io_uring& ring, bool idle) noexcept {
  // Queued cancels go in now, and every completion left (cancels, linked
  // timeouts) is dropped: the next hub's fibers may live at the addresses
  // these name.
  io_uring_submit_and_get_events(&ring);
  io_uring_cq_advance(&ring, io_uring_cq_ready(&ring));
  if (!idle || t_kept.kept) {
    io_uring_queue_exit(&ring);
    return;
  }
  register_fork_handler();
  t_kept.ring = ring;
  t_kept.kept = true;
}

}  // namespace unclog::io
