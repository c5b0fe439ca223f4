#include "loop_frame.hpp"

#include <cxxabi.h>
#include <dlfcn.h>
#include <pthread.h>
#include <unwind.h>

#include <cstdlib>
#include <cstring>

#include "base/runtime.hpp"
#include "watch/format.hpp"
#include "watch/step_slot.hpp"
#include "watch/symbolize.hpp"
#include "watch/symtab.hpp"

namespace unclog::loops {
namespace {

constexpr int kMaxWalk = 96;

struct Walk {
  std::uintptr_t ip[kMaxWalk];
  std::uintptr_t cfa[kMaxWalk];  // of the callee: ip[i] is stored at cfa[i] - 8
  int n = 0;
};

_Unwind_Reason_Code on_frame(_Unwind_Context* ctx, void* arg) {
  auto* w = static_cast<Walk*>(arg);
  const std::uintptr_t ip = _Unwind_GetIP(ctx);
  if (ip == 0) return _URC_END_OF_STACK;
  w->ip[w->n] = ip;
  w->cfa[w->n] = _Unwind_GetCFA(ctx);
  return ++w->n == kMaxWalk ? _URC_END_OF_STACK : _URC_NO_REASON;
}

// This thread's own stack, once per thread.
struct Bounds {
  std::uintptr_t lo = 0, hi = 0;
  bool known = false;
};
thread_local Bounds t_stack;

bool on_own_stack(std::uintptr_t p) {
  if (!t_stack.known) {
    t_stack.known = true;
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
      void* base = nullptr;
      std::size_t size = 0;
      if (pthread_attr_getstack(&attr, &base, &size) == 0) {
        t_stack.lo = reinterpret_cast<std::uintptr_t>(base);
        t_stack.hi = t_stack.lo + size;
      }
      pthread_attr_destroy(&attr);
    }
  }
  return p >= t_stack.lo && p < t_stack.hi;
}

// The real function of a pc (the outermost of its inlined levels), by the
// symbol table: the program never waits for debug information to be read.
std::string function_at(std::uintptr_t return_address) { return watch::function_symbol_at(return_address - 1); }

void copy_name(char* out, std::size_t size, const char* name) {
  std::size_t i = 0;
  // Up to the parameter list: "QEventLoop::exec(QFlags<...>)" reads as QEventLoop::exec.
  for (; name[i] && name[i] != '(' && i + 1 < size; ++i) out[i] = name[i];
  out[i] = '\0';
}

// The exported function a library frame is in: a loop's entry point is
// always exported (the program called it), so the dynamic symbol table
// names it even in a stripped library.
void name_entry(std::uintptr_t return_address, char* out, std::size_t size) {
  out[0] = '\0';
  Dl_info info{};
  if (!dladdr(reinterpret_cast<void*>(return_address - 1), &info) || !info.dli_sname) return;
  copy_name(out, size, watch::demangle(info.dli_sname).c_str());
}

}  // namespace

bool find_loop_frame(std::uintptr_t site, const Loop& loop, LoopFrame* out) {
#if defined(__x86_64__)
  // Before any frame is kept: how every later check will read it.
  static const bool by_syscall = [] {
    const bool v = detail::under_valgrind();
    watch::g_read_loop_frames_by_syscall.store(v, std::memory_order_relaxed);
    return v;
  }();
  (void)by_syscall;
  Walk w;
  _Unwind_Backtrace(on_frame, &w);
  int i = 0;
  while (i < w.n && w.ip[i] != site) ++i;
  if (i == w.n) return false;
  // Frame i made the wait. Outward, the loop's own frames: in a loop
  // library, or (a loop compiled into the program) named as the loop's.
  const bool by_name = loop_library_at(site) == nullptr;
  const Loop* outermost = &loop;
  int k = i;
  if (&loop != &own_loop()) {
    while (k + 1 < w.n) {
      const std::uintptr_t ip = w.ip[k + 1];
      if (const Loop* lib = loop_library_at(ip)) {
        outermost = lib;
      } else if (!by_name || !is_loop_function(loop, function_at(ip).c_str())) {
        break;
      }
      ++k;
    }
  }
  if (k + 1 >= w.n) return false;
  // The unwinder gives each frame's pc with its callee's CFA: the stack
  // pointer at the call, just above the return address the call pushed.
  const std::uintptr_t cfa = w.cfa[k + 1];
  if (!on_own_stack(cfa - sizeof(std::uintptr_t))) return false;
  if (*reinterpret_cast<const std::uintptr_t*>(cfa - sizeof(std::uintptr_t)) != w.ip[k + 1]) return false;
  out->cfa = cfa;
  out->ret = w.ip[k + 1];
  out->loop = outermost;
  // Run by a library's own thread (its frames, then libc's thread start):
  // the frame is kept, so its next waits are judged with one load, but the
  // loop gets no steps.
  if (!is_program_code(w.ip[k + 1])) return false;
  if (&loop == &own_loop()) {
    out->entry[0] = '\0';
  } else if (loop_library_at(w.ip[k])) {
    name_entry(w.ip[k], out->entry, sizeof out->entry);
  } else {
    copy_name(out->entry, sizeof out->entry, watch::short_name(function_at(w.ip[k])).c_str());
  }
  return true;
#else
  (void)site;
  (void)loop;
  (void)out;
  return false;
#endif
}

std::uintptr_t caller_outside_runtimes() {
  Walk w;
  _Unwind_Backtrace(on_frame, &w);
  for (int i = 1; i < w.n; ++i) {
    if (!in_sanitizer_runtime(w.ip[i]) && is_program_code(w.ip[i])) return w.ip[i];
  }
  return 0;
}

}  // namespace unclog::loops
