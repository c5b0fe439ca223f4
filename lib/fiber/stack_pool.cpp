#include "stack_pool.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
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

void unmap(const Stack& s) { munmap(s.base, s.mapped); }

}  // namespace

StackPool::~StackPool() {
  for (const Stack& s : free_) unmap(s);
}

Stack StackPool::acquire(std::size_t usable_bytes) {
  const std::size_t usable = round_up(usable_bytes ? usable_bytes : default_stack_size(), page_size());
  for (auto it = free_.rbegin(); it != free_.rend(); ++it) {
    if (it->usable == usable) {
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
  const std::size_t guard = page_size();
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
  if (mprotect(p, guard, PROT_NONE) != 0) {
    const int err = errno;
    munmap(p, s.mapped);
    throw std::system_error(err, std::generic_category(), "unclog: cannot protect a fiber stack guard page");
  }
  s.base = p;
  return s;
}

void StackPool::release(Stack s) {
  if (!s) return;
  if (free_.size() < stack_pool_size()) {
    // Keep the mapping and its touched pages: a reused stack costs no syscall
    // and no page faults. The pool is small, so this memory is bounded.
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
