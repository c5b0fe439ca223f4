#include "runtime.hpp"

#include <link.h>

#include <cstring>

// Weak references, bound by the loader when a sanitizer runtime is in the
// program. Not dlsym: a failed lookup leaves a dlerror string, which the
// program's next dlerror() would read as its own, and which the next dlsym
// frees, possibly inside a signal handler.
extern "C" void __tsan_init() __attribute__((weak));
extern "C" void __asan_init() __attribute__((weak));

namespace unclog::detail {
namespace {

int find_valgrind(dl_phdr_info* info, std::size_t, void* found) {
  if (info->dlpi_name && std::strstr(info->dlpi_name, "/vgpreload_")) *static_cast<bool*>(found) = true;
  return 0;
}

struct Runtimes {
  bool valgrind = false, tsan = false, asan = false;
  Runtimes() {
    dl_iterate_phdr(find_valgrind, &valgrind);
    tsan = __tsan_init != nullptr;
    asan = __asan_init != nullptr;
  }
};

const Runtimes& runtimes() {
  static const Runtimes r;
  return r;
}

// Decided before main, so that the first question from a signal handler
// finds the answer made.
__attribute__((constructor)) void decide_at_load() { (void)runtimes(); }

}  // namespace

bool under_valgrind() noexcept { return runtimes().valgrind; }
bool under_tsan() noexcept { return runtimes().tsan; }
bool under_sanitizer() noexcept { return runtimes().tsan || runtimes().asan; }

}  // namespace unclog::detail
