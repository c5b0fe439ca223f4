// Fiber stack settings. Thread-safe; they apply to fibers spawned afterwards.
#pragma once
#include <cstddef>

namespace unclog {

// Usable bytes of a fiber stack when spawn() is not told otherwise
// (default 256 KiB, rounded up to whole pages). A guard page sits below it.
std::size_t default_stack_size() noexcept;
void set_default_stack_size(std::size_t bytes) noexcept;

// Freed stacks each thread keeps for reuse (default 64).
std::size_t stack_pool_size() noexcept;
void set_stack_pool_size(std::size_t stacks) noexcept;

}  // namespace unclog
