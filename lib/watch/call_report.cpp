#include "call_report.hpp"

#include <dlfcn.h>

#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "format.hpp"
#include "sampler.hpp"
#include "symbolize.hpp"
#include "visible_mutex.hpp"
#include "base/tsan_sync.hpp"

namespace unclog::watch {
namespace {

struct Allowed {
  VisibleMutex mu;
  std::vector<std::string> names;
};
Allowed& allowed() {
  return detail::made_once<Allowed>();
}

// Calls made on behalf of these are not the user's: GoogleTest's own
// machinery (its output, its locks), the dynamic loader, and the sanitizer
// runtimes (UBSan's vptr check probes memory with a write to a pipe). They
// count only between the call and the user's first frame: every test body
// runs under testing::Test::Run, which allows nothing.
// Loop libraries start their thread pools on first use and wait for the
// threads to come up (libuv's uv_once around its pool's start): once per
// process, inside the very calls that are the remedy (uv_fs_*, uv_queue_work).
constexpr const char* kBuiltIn[] = {"testing::", "_dl_", "dl_open_worker", "__libc_dlopen",
                                    "__sanitizer::", "__asan", "__ubsan", "__lsan", "uv_once"};

// The C library's allocator: a wait for its arena lock (another thread is
// freeing into it) is seen as a futex wait under malloc or free. Brief,
// everywhere, and no remedy to name: not reported (BlockHound, too, leaves
// allocators alone).
constexpr std::string_view kAllocator[] = {"malloc", "free", "calloc", "realloc", "cfree", "memalign",
                                           "aligned_alloc", "posix_memalign"};

bool is_allowed(const std::vector<StackFrame>& frames, const std::vector<std::string>& names) {
  bool inner = true;  // not yet past the user's first frame
  for (const StackFrame& f : frames) {
    inner = inner && !f.user;
    for (const char* b : kBuiltIn) {
      if (inner && f.function.find(b) != std::string::npos) return true;
    }
    for (std::string_view a : kAllocator) {
      if (inner && f.function == a) return true;
    }
    for (const std::string& n : names) {
      if (!n.empty() && f.function.find(n) != std::string::npos) return true;
    }
  }
  return false;
}

// A lock a loop library takes for itself (libuv's thread-pool queue inside
// uv_fs_open or uv_queue_work, GLib's main-context lock, Qt's event queue,
// Asio's reactor and scheduler locks, header-only and so compiled into the
// user's program: known by name): contended for a moment by the library's
// own threads, and the wait belongs to the library's machinery, like an
// allocator's arena lock. Held past the resolution it is still a time
// stall, with its stack. The lock's caller is the first frame outside libc
// and unclog.
bool is_lock_wait(const char* what) {
  return std::strncmp(what, "pthread_mutex_lock", 18) == 0 || std::strncmp(what, "futex(FUTEX_WAIT", 16) == 0 ||
         std::strncmp(what, "futex(FUTEX_LOCK_PI", 19) == 0;
}

constexpr std::string_view kLoopLibraries[] = {"libuv.so", "libglib-2.0.so", "libgio-2.0.so", "libQt5Core.so",
                                               "libQt6Core.so", "libevent", "libev.so", "libsystemd.so"};

bool is_loop_library(std::string_view object) {
  for (std::string_view lib : kLoopLibraries) {
    if (object.substr(0, lib.size()) == lib) return true;
  }
  return false;
}

// What stands between a lock's caller and the kernel: libc and our wrapper.
bool under_the_caller(std::string_view object) {
  return object.substr(0, 7) == "libc.so" || object.substr(0, 9) == "libunclog" || object.substr(0, 10) == "libpthread";
}

bool is_asio_internal(std::string_view function) {
  return function.rfind("boost::asio::detail::", 0) == 0 || function.rfind("asio::detail::", 0) == 0;
}

bool taken_by_loop_library(const std::vector<StackFrame>& frames) {
  for (const StackFrame& f : frames) {
    if (f.user) return false;
    if (is_asio_internal(f.function)) return true;
    const std::string_view object = f.object;
    if (object.empty() || under_the_caller(object)) continue;
    return is_loop_library(object);
  }
  return false;
}

// The same question asked of the raw stack, before anything is symbolized:
// the lock's caller is the first frame outside libc and libunclog; its
// object and its ELF symbol (dladdr: no debug information read) tell a loop
// library's or Asio's own. Symbolizing first cost 100 ms and more on the
// first report of a process, and a lock wait inside an Asio pool is often
// ended by pthread_cond_wait with the scheduler's mutex held: every other
// thread of the pool then waited for our symbolizer (a "time stall").
bool lock_taken_by_loop_library(const std::uintptr_t* pcs, int n) {
  for (int i = 0; i < n; ++i) {
    Dl_info info{};
    if (!dladdr(reinterpret_cast<const void*>(pcs[i] - 1), &info) || !info.dli_fname) return false;
    const char* base = std::strrchr(info.dli_fname, '/');
    const std::string_view object = base ? base + 1 : info.dli_fname;
    if (under_the_caller(object)) continue;
    if (is_loop_library(object)) return true;
    const std::string_view symbol = info.dli_sname ? info.dli_sname : "";
    return symbol.rfind("_ZN5boost4asio6detail", 0) == 0 || symbol.rfind("_ZN4asio6detail", 0) == 0;
  }
  return false;
}

}  // namespace

bool stall_allowed(const std::vector<StackFrame>& frames) { return is_allowed(frames, {}); }

void record_call(StepSlot& slot, const char* what, bool trapped) noexcept {
  const std::uint64_t seq = slot.seq.load(std::memory_order_relaxed);
  if (slot.call_seq != seq) {
    slot.call_seq = seq;
    slot.ncalls = 0;
    slot.calls_total = 0;
  }
  ++slot.calls_total;
  if (slot.ncalls < kMaxCalls) {
    CallRecord& rec = slot.calls[slot.ncalls];
    std::strncpy(rec.what, what, kCallText - 1);
    rec.what[kCallText - 1] = '\0';
    rec.trapped = trapped;
    // A trapped call's stack starts at the signal frame: the system call.
    rec.nframes = trapped ? capture_stack(rec.frames, kMaxFrames, true)
                          : capture_stack(rec.frames, kMaxFrames, false, /*skip=*/1);  // record_call itself
    ++slot.ncalls;
  }
  slot.target.store(seq, std::memory_order_release);
  request_check(slot);
}

namespace {

// libc, the loader, the vDSO, the unwinder: what our wrappers and handlers
// call on the way into the kernel, below the frame the user's code called.
bool is_system_object(const char* path) {
  if (!path) return false;
  const char* base = std::strrchr(path, '/');
  const std::string_view name = base ? base + 1 : path;
  for (std::string_view sys : {"libc.so", "libpthread", "ld-linux", "linux-vdso", "libgcc_s", "libm.so"}) {
    if (name.substr(0, sys.size()) == sys) return true;
  }
  return false;
}

}  // namespace

std::vector<StackFrame> user_facing_frames(const std::uintptr_t* pcs, int n) {
  static const void* own_base = [] {
    Dl_info info{};
    return dladdr(reinterpret_cast<const void*>(&record_call), &info) ? info.dli_fbase : nullptr;
  }();
  // The innermost frames that are ours, or the system's under ours (an
  // interposed usleep's real usleep and clock_nanosleep; the sampler's
  // getpid): `i` is one past the outermost of ours among them.
  constexpr int kLeading = 16;
  int i = 0;
  for (int j = 0; j < n && j < kLeading; ++j) {
    Dl_info info{};
    const bool known = dladdr(reinterpret_cast<const void*>(pcs[j]), &info) != 0;
    if (known && info.dli_fbase == own_base) {
      i = j + 1;
    } else if (!known || !is_system_object(info.dli_fname)) {
      break;
    }
  }
  std::vector<StackFrame> out;
  int rest = i;
  if (i > 0) {
    // The outermost of our frames, without what is inlined into it: an
    // interposed function named like libc's is the call the user made.
    const std::vector<StackFrame> wrapper = symbolize(&pcs[i - 1], 1);
    const std::vector<StackFrame> next = i < n ? symbolize(&pcs[i], 1) : std::vector<StackFrame>{};
    if (!wrapper.empty() && !wrapper.back().function.empty() && wrapper.back().function.rfind("unclog", 0) != 0) {
      out.push_back(wrapper.back());
      // UNCLOG_INTERPOSE's full path (lib/calls/real.hpp): named for the
      // function it interposes, which tail-called it and left no frame.
      constexpr std::string_view kWatchedPath = "watched_";
      if (out.back().function.rfind(kWatchedPath, 0) == 0) out.back().function.erase(0, kWatchedPath.size());
    } else if (!next.empty() && next.back().function.empty()) {
      rest = i + 1;  // our signal handler's: the kernel's return trampoline follows
    }
  }
  std::vector<StackFrame> tail = symbolize(pcs + rest, n - rest);
  out.insert(out.end(), tail.begin(), tail.end());
  return out;
}

// A trapped system call is named at the level the user wrote: the outermost
// library frame under the user's first one ("read(...) in fread"), unless
// that is the system call's own wrapper.
std::string describe_trapped(const char* what, const std::vector<StackFrame>& frames) {
  std::string out = what;
  const StackFrame* called = nullptr;
  bool user_found = false;
  for (const StackFrame& f : frames) {
    if ((user_found = f.user)) break;
    called = &f;
  }
  if (!user_found || !called || called->function.empty()) return out;
  const std::string name = short_name(called->function);
  const std::string syscall_name = out.substr(0, out.find('('));
  if (name != syscall_name) out += " in " + name;
  return out;
}

bool all_loop_library_locks(const CallRecord* calls, int n) {
  for (int i = 0; i < n; ++i) {
    if (!is_lock_wait(calls[i].what) || !lock_taken_by_loop_library(calls[i].frames, calls[i].nframes)) return false;
  }
  return true;
}

bool add_first_unallowed_call(BlockingReport& report, const CallRecord* calls, int n, unsigned total) {
  std::vector<std::string> names;
  {
    std::lock_guard lk(allowed().mu);
    names = allowed().names;
  }
  std::vector<StackFrame> first_stack;
  for (int i = 0; i < n; ++i) {
    if (is_lock_wait(calls[i].what) && lock_taken_by_loop_library(calls[i].frames, calls[i].nframes)) continue;
    StackSample sample;
    // A trapped call's stack starts at the system call itself.
    sample.frames = calls[i].trapped ? symbolize(calls[i].frames, calls[i].nframes)
                                     : user_facing_frames(calls[i].frames, calls[i].nframes);
    if (is_allowed(sample.frames, names) || (is_lock_wait(calls[i].what) && taken_by_loop_library(sample.frames))) {
      if (i == 0) first_stack = sample.frames;
      continue;
    }
    report.time_kind = report.kind;
    report.kind = StallKind::call;
    report.call = calls[i].trapped ? describe_trapped(calls[i].what, sample.frames) : calls[i].what;
    report.calls = total;
    report.samples.insert(report.samples.begin(), std::move(sample));
    return true;
  }
  // Every call was allowed. Should the step still be reported for its time,
  // its stack is the first call's: where it blocked (no signal sampled it).
  if (report.samples.empty() && !first_stack.empty()) {
    StackSample sample;
    sample.frames = std::move(first_stack);
    report.samples.push_back(std::move(sample));
  }
  return false;
}

}  // namespace unclog::watch

namespace unclog {

void set_allowed_blocking_functions(std::vector<std::string> names) {
  std::lock_guard lk(watch::allowed().mu);
  watch::allowed().names = std::move(names);
}

}  // namespace unclog
