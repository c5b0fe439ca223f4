// A thread of libunclog's own (the watchdog), on a stack we map ourselves.
// glibc keeps the stacks and descriptors of the program's joined threads
// and hands them to the next pthread_create: our watchdog, started at the
// first watched step, took the descriptor of a thread the program had just
// joined, and a program that joined that thread again (undefined, and
// harmless without us: uvw's Thread.Run joins once by hand and once in a
// destructor) then waited for our watchdog forever. A stack of our own
// takes nothing from that cache, so the program's thread ids stay its own.
//
// Thread-safety: one owner, which serializes start, join and forget (the
// watchdog registry's lock). Not for signal handlers.
#pragma once
#include <pthread.h>

#include <cstddef>

namespace unclog::detail {

class OwnThread {
 public:
  // Starts fn(arg) with the caller's signal mask. False when no thread
  // could be made.
  bool start(void* (*fn)(void*), void* arg) noexcept;
  void join() noexcept;
  // In a forked child: the thread is not there; its stack is freed.
  void forget_after_fork() noexcept;
  bool started() const noexcept { return started_; }

 private:
  pthread_t id_{};
  bool started_ = false;
  void* stack_ = nullptr;  // nullptr: glibc's own (our mapping was refused)
  std::size_t size_ = 0;
};

}  // namespace unclog::detail
