#include "runtime.hpp"

#include <dlfcn.h>
#include <link.h>

#include <cstring>

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
    tsan = dlsym(RTLD_DEFAULT, "__tsan_init") != nullptr;
    asan = dlsym(RTLD_DEFAULT, "__asan_init") != nullptr;
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
