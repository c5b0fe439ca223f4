#include "stack_pool.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <string>
#include <system_error>

#include "unclog/fiber_options.hpp"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

namespace unclog::fiber {
namespace {

std::size_t page_size() {
  static const std::size_t size = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return size;
}

std::size_t round_up(std::size_t n, std::size_t to) { return (n + to - 1) / to * to; }

// A stack's memory goes back with its ASan shadow clean: a finished fiber's
// last frames never returned, and the next mapping at this address (any
// thread's) would find their redzones still poisoned.
void unmap(const Stack& s) {
#if defined(__SANITIZE_ADDRESS__)
  __asan_unpoison_memory_region(s.base, s.mapped);
#endif
  munmap(s.base, s.mapped);
}

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

// A guard page below the stack. Linux 6.13+ installs one without a mapping
// of its own (MADV_GUARD_INSTALL), so stacks cost no vm.max_map_count
// entries; older kernels get an mprotect'ed page. Returns false when the
// mapping limit is reached; throws on other failures.
bool install_guard(void* p, std::size_t guard) {
  static std::atomic<bool> madvise_works{true};
  if (madvise_works.load(std::memory_order_relaxed)) {
    if (madvise(p, guard, MADV_GUARD_INSTALL) == 0) return true;
    madvise_works.store(false, std::memory_order_relaxed);  // EINVAL: an older kernel
  }
  if (mprotect(p, guard, PROT_NONE) == 0) return true;
  if (errno == ENOMEM) return false;
  throw std::system_error(errno, std::generic_category(), "unclog: cannot protect a fiber stack guard page");
}

}  // namespace

StackPool::~StackPool() {
  for (const Stack& s : free_) unmap(s);
}

Stack StackPool::acquire(std::size_t usable_bytes) {
  const std::size_t usable = round_up(usable_bytes ? usable_bytes : default_stack_size(), page_size());
  const std::size_t guard = page_size();
  for (auto it = free_.rbegin(); it != free_.rend(); ++it) {
    if (it->mapped == usable + guard) {
      Stack s = *it;
      free_.erase(std::next(it).base());
#if defined(__SANITIZE_ADDRESS__)
      // A finished fiber's last frames never returned: their redzones are
      // still poisoned and would be taken for overflows by the next fiber.
      __asan_unpoison_memory_region(static_cast<char*>(s.base) + s.guard_size(), s.usable);
#endif
      return s;
    }
  }
  Stack s;
  s.mapped = usable + guard;
  s.usable = usable;
  // MAP_NORESERVE: a stack costs only the pages a fiber touches.
  void* p = mmap(nullptr, s.mapped, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (p == MAP_FAILED) {
    throw std::system_error(errno, std::generic_category(),
                            "unclog: cannot map a " + std::to_string(usable / 1024) +
                                " KiB fiber stack (vm.max_map_count or memory limit?)");
  }
  s.base = p;
  bool guarded;
  try {
    guarded = install_guard(p, guard);
  } catch (...) {
    munmap(p, s.mapped);
    throw;
  }
  if (!guarded) {
    // Only ENOMEM gets here: vm.max_map_count is reached, and each
    // mprotect'ed guard page costs a mapping (about 32,000 guarded stacks
    // with the default limit on kernels without MADV_GUARD_INSTALL).
    static std::atomic<bool> told{false};
    if (!told.exchange(true)) {
      std::fprintf(stderr,
                   "unclog: vm.max_map_count reached: further fiber stacks have no guard page, so an overflow "
                   "there is not caught (raise vm.max_map_count to keep them)\n");
    }
    s.usable = s.mapped;  // the would-be guard page is part of the stack
  }
  return s;
}

void StackPool::release(Stack s) {
  if (!s) return;
  if (free_.size() < stack_pool_size()) {
    // Keep the mapping and its touched pages: a reused stack costs no syscall
    // and no page faults. The pool is small, so this memory is bounded; a
    // big stack (a root fiber's, thread-sized) gives its pages back, as a
    // deep recursion may have touched megabytes of it.
    if (s.usable > (1u << 20)) madvise(static_cast<char*>(s.base) + s.guard_size(), s.usable, MADV_DONTNEED);
    free_.push_back(s);
  } else {
    unmap(s);
  }
}

StackPool& StackPool::local() {
  thread_local StackPool pool;
  return pool;
}

}  // namespace unclog::fiber
