// Fiber stacks: mmap'd, with one PROT_NONE guard page below each, kept in a
// small per-thread free list so that spawning a fiber rarely costs a syscall.
//
// Thread-safety: a StackPool belongs to one thread (the hub's); the global
// size settings are atomics and may be changed from any thread.
#pragma once
#include <cstddef>
#include <vector>

namespace unclog::fiber {

struct Stack {
  void* base = nullptr;     // lowest address of the mapping (the guard page)
  std::size_t mapped = 0;   // bytes mapped, guard included
  std::size_t usable = 0;   // bytes the fiber may use
  void* top() const { return static_cast<char*>(base) + mapped; }
  std::size_t guard_size() const { return mapped - usable; }
  explicit operator bool() const { return base != nullptr; }
};

class StackPool {
 public:
  StackPool() = default;
  StackPool(const StackPool&) = delete;
  StackPool& operator=(const StackPool&) = delete;
  ~StackPool();

  // Throws std::system_error naming the size when the mapping fails.
  Stack acquire(std::size_t usable_bytes);
  void release(Stack s);

  // The pool of the calling thread.
  static StackPool& local();

 private:
  std::vector<Stack> free_;
};

}  // namespace unclog::fiber
