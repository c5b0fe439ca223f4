#include "unclog/fiber_options.hpp"

#include <atomic>

namespace unclog {
namespace {
std::atomic<std::size_t> g_stack_size{256 * 1024};
std::atomic<std::size_t> g_pool_size{64};
}  // namespace

std::size_t default_stack_size() noexcept { return g_stack_size.load(std::memory_order_relaxed); }
void set_default_stack_size(std::size_t bytes) noexcept {
  g_stack_size.store(bytes < 16 * 1024 ? 16 * 1024 : bytes, std::memory_order_relaxed);
}
std::size_t stack_pool_size() noexcept { return g_pool_size.load(std::memory_order_relaxed); }
void set_stack_pool_size(std::size_t stacks) noexcept { g_pool_size.store(stacks, std::memory_order_relaxed); }

}  // namespace unclog
