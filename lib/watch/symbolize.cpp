#include "symbolize.hpp"

#include <backtrace.h>
#include <cxxabi.h>
#include <dlfcn.h>
#include <pthread.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <atomic>
#include <mutex>
#include <new>
#include <string_view>
#include <unordered_map>

#include "calls/calls.hpp"
#include "symtab.hpp"
#include "visible_mutex.hpp"

namespace unclog::watch {
namespace {

void on_error(void*, const char*, int) {}  // missing debug info is normal

backtrace_state* state() {
  static backtrace_state* s = backtrace_create_state(nullptr, /*threaded=*/1, on_error, nullptr);
  return s;
}


bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// Code that is not the user's: anything in a runtime library (by the
// object the pc is in, which works without debug information), and code
// inlined from our headers or the system's.
bool is_system_object(std::string_view object) {
  for (std::string_view lib : {"libc.so", "libm.so", "ld-linux", "libstdc++", "libgcc_s", "libpthread", "libdl.",
                               "librt.", "libboost_", "libgtest", "libgmock", "libunclog", "liburing", "libasan", "libubsan",
                               "libtsan", "liblsan",
                               // event loop libraries (their debug information may be installed)
                               "libuv.", "libevent", "libglib-", "libgio-", "libgobject-", "libQt5", "libQt6", "libev.",
                               "libsystemd."}) {
    if (starts_with(object, lib)) return true;
  }
  return false;
}

bool is_user(const StackFrame& f, std::string_view object) {
  if (f.file.empty() || is_system_object(object)) return false;
  // Ours, linked into the user's program (the gtest glue is a static library).
  if (starts_with(f.function, "unclog::")) return false;
  std::string_view file = f.file;
  if (file.find("include/unclog/") != std::string_view::npos) return false;
  if (starts_with(file, "lib/") || starts_with(file, "gtest_ext/")) return false;  // our tree, relative
  // The GoogleTest glue, compiled in the user's build: from our tree
  // (../gtest_ext/) or installed (share/unclog/gtest/).
  if (file.find("gtest_ext/") != std::string_view::npos || file.find("/unclog/gtest/") != std::string_view::npos) {
    return false;
  }
  for (std::string_view sys : {"/usr/include/", "/usr/src/", "/usr/lib/"}) {
    if (starts_with(file, sys)) return false;
  }
  return true;
}

// glibc's internal aliases (__GI___nanosleep, ___pthread_mutex_lock) read
// better under their public names.
std::string public_name(std::string name, std::string_view object) {
  if (starts_with(name, "__interceptor_")) name.erase(0, 14);  // sanitizer builds
  if (!starts_with(object, "libc.so")) return name;
  if (starts_with(name, "__GI_")) name.erase(0, 5);
  std::size_t i = 0;
  while (i < name.size() && name[i] == '_') ++i;
  if (i >= 2 && i < name.size()) name.erase(0, i);
  if (starts_with(name, "libc_")) name.erase(0, 5);  // __libc_read
  if (starts_with(name, "_IO_")) name.erase(0, 4);    // _IO_fgets: stdio's fgets
  return name;
}

std::string object_of(std::uintptr_t pc) {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(pc), &info) && info.dli_fname) {
    const char* slash = std::strrchr(info.dli_fname, '/');
    return slash ? slash + 1 : info.dli_fname;
  }
  return {};
}

struct Collect {
  std::vector<StackFrame>* out;
};

int on_pcinfo(void* data, std::uintptr_t pc, const char* file, int line, const char* function) {
  auto* c = static_cast<Collect*>(data);
  if (!file && !function) return 0;
  StackFrame f;
  f.pc = pc;
  f.function = demangle(function);
  f.file = file ? display_path(file) : "";
  f.line = line;
  c->out->push_back(std::move(f));
  return 0;
}

void on_syminfo(void* data, std::uintptr_t, const char* symname, std::uintptr_t, std::uintptr_t) {
  if (symname) *static_cast<std::string*>(data) = demangle(symname);
}

std::vector<StackFrame> frames_of(std::uintptr_t pc) {
  std::vector<StackFrame> out;
  Collect c{&out};
  if (backtrace_state* s = state()) backtrace_pcinfo(s, pc, on_pcinfo, on_error, &c);
  // A function split by the optimizer (f.part.0) shows up as f inlined into
  // f: keep the innermost level, whose line is the precise one.
  for (std::size_t i = 1; i < out.size();) {
    if (out[i].function == out[i - 1].function) out.erase(out.begin() + static_cast<std::ptrdiff_t>(i)); else ++i;
  }
  for (std::size_t i = 0; i + 1 < out.size(); ++i) out[i].inlined = true;
  if (out.empty() || out.back().function.empty()) {
    std::string name;
    if (backtrace_state* s = state()) backtrace_syminfo(s, pc, on_syminfo, on_error, &name);
    // The ELF symbol table, never boost::stacktrace::frame::name(): that
    // builds a libbacktrace state per thread, reading every object's debug
    // information again inside dl_iterate_phdr (150 ms, the loader's list
    // lock held throughout) for each new thread that reports. An Asio
    // pool's threads judging a condition wait meanwhile waited for that
    // lock holding Asio's, and were reported for it.
    if (name.empty()) name = function_symbol_at(pc);
    if (out.empty()) {
      StackFrame f;
      f.pc = pc;
      out.push_back(f);
    }
    out.back().function = name;
  }
  const std::string object = object_of(pc);
  for (StackFrame& f : out) {
    if (f.file.empty()) f.object = object;
    f.function = public_name(std::move(f.function), object);
    f.user = is_user(f, object);
  }
  return out;
}

}  // namespace

std::string demangle(const char* name) {
  if (!name) return {};
  int status = 0;
  char* out = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  if (status != 0 || !out) return name;
  std::string s(out);
  std::free(out);
  return s;
}

std::string display_path(const char* path) {
  std::string p = std::filesystem::path(path).lexically_normal().string();
  // Our library's own files read as lib/watch/x.cpp. Anything else keeps the
  // path the compiler recorded: relative to the build directory (GCC), or
  // absolute (clang joins it with the compilation directory), which the CI
  // annotations then make relative to the workspace.
  static const std::string root = std::filesystem::path(UNCLOG_SOURCE_ROOT).lexically_normal().string() + "/";
  if (starts_with(p, root)) {
    const std::string_view rest = std::string_view(p).substr(root.size());
    if (starts_with(rest, "lib/") || starts_with(rest, "include/unclog/") || starts_with(rest, "gtest_ext/")) {
      p.erase(0, root.size());
    }
  }
  return p;
}

namespace {

// The cache is never destroyed: loop threads report as they exit, so
// symbolizing may outlive static destruction. Both are constant-initialized,
// and the cache is made under the lock: a guarded static initialization in
// this uninstrumented library is invisible to ThreadSanitizer (a heap mutex
// made so was reported as a race in the TSan consumer).
VisibleMutex g_mu;  // libbacktrace is thread-safe; the cache is not
std::unordered_map<std::uintptr_t, std::vector<StackFrame>>* g_cache = nullptr;
std::atomic<bool> g_warm{false};
std::atomic<bool> g_first_read{false};  // reading_debug_information()

// libbacktrace's first lookup reads every object's line tables inside
// dl_iterate_phdr, with the loader's lock held: a fork() then would leave
// the child that lock, taken for good (a death test's child hung at exit in
// LeakSanitizer's dl_iterate_phdr). fork() waits for a symbolization in
// progress instead. That wait is ours, not the program's blocking call: it
// is neither reported nor trapped.
void before_fork() {
  calls::InternalScope ours;
  g_mu.lock();
}
void after_fork() { g_mu.unlock(); }
void after_fork_child() { new (&g_mu) VisibleMutex; }

std::vector<StackFrame> symbolize_locked(const std::uintptr_t* pcs, int n) {
  std::vector<StackFrame> out;
  if (!g_cache) g_cache = new std::unordered_map<std::uintptr_t, std::vector<StackFrame>>;
  for (int i = 0; i < n; ++i) {
    auto it = g_cache->find(pcs[i]);
    if (it == g_cache->end()) it = g_cache->emplace(pcs[i], frames_of(pcs[i])).first;
    // A loop run function's entry hook (loops/entry_hooks.cpp) stands
    // between the program and the loop it called: not part of their story.
    if (!it->second.empty() && it->second.back().function.find("loop_entry_hook<") != std::string::npos) continue;
    out.insert(out.end(), it->second.begin(), it->second.end());
  }
  g_warm.store(true, std::memory_order_release);
  return out;
}

}  // namespace

std::vector<StackFrame> symbolize(const std::uintptr_t* pcs, int n) {
  static std::once_flag fork_hooks;
  std::call_once(fork_hooks, [] { pthread_atfork(before_fork, after_fork, after_fork_child); });
  std::lock_guard lk(g_mu);
  if (g_warm.load(std::memory_order_relaxed)) return symbolize_locked(pcs, n);
  struct FirstRead {
    FirstRead() { g_first_read.store(true, std::memory_order_relaxed); }
    ~FirstRead() { g_first_read.store(false, std::memory_order_relaxed); }
  } first_read;
  return symbolize_locked(pcs, n);
}

bool reading_debug_information() noexcept { return g_first_read.load(std::memory_order_relaxed); }

bool symbolize_if_ready(const std::uintptr_t* pcs, int n, std::vector<StackFrame>* out) {
  if (!g_warm.load(std::memory_order_acquire) || !g_mu.try_lock()) return false;
  std::lock_guard lk(g_mu, std::adopt_lock);
  *out = symbolize_locked(pcs, n);
  return true;
}

void locate(BlockingReport& r) {
  if (r.samples.empty()) return;
  const auto& frames = r.samples.front().frames;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    if (!frames[i].user) continue;
    r.user_function = frames[i].function;
    r.file = frames[i].file;
    r.line = frames[i].line;
    // A CPU hog's culprit is the user's code itself, not whatever it happened
    // to be calling when sampled; a blocked step's is the call it made.
    r.function = i > 0 && r.kind != StallKind::cpu ? frames[i - 1].function : frames[i].function;
    return;
  }
  if (!frames.empty()) r.function = frames.front().function;
}

}  // namespace unclog::watch
