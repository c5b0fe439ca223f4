#include "known_loops.hpp"

#include <dlfcn.h>
#include <link.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "calls/calls.hpp"
#include "entry_hooks.hpp"
#include "unclog/loops.hpp"
#include "unclog/watch.hpp"
#include "watch/sampler.hpp"
#include "watch/symbolize.hpp"
#include "watch/symtab.hpp"
#include "watch/visible_mutex.hpp"
#include "base/tsan_sync.hpp"

namespace unclog::loops {
namespace {

struct Known {
  Loop loop;
  std::vector<std::string_view> objects;  // shared object name prefixes
  std::vector<std::string_view> waiters;  // functions that make the loop's wait (by name)
  std::vector<std::string_view> frames;   // functions of the loop's machinery (by name)
};

// The remedies name the loop's own way of getting work off the loop thread.
const Known kKnown[] = {
    {{"libuv",
      "uv_queue_work() runs it on libuv's thread pool; uv_fs_*() and uv_getaddrinfo() do file I/O and lookups "
      "without blocking the loop",
      "a uv_timer_t waits without blocking the loop",
      "uv_queue_work() runs CPU-heavy work on libuv's thread pool",
      "keep the lock's holders short, or hand the work to the loop thread with uv_async_send() instead of sharing it under a lock"},
     {"libuv.so", "libuv-static"},
     {"uv__io_poll", "uv__platform_loop"},
     {"uv_run", "uv__"}},
    {{"libevent",
      "evdns_getaddrinfo() resolves and bufferevents do socket I/O without blocking the loop; other blocking work "
      "belongs on a worker thread that comes back with event_active()",
      "an evtimer waits without blocking the loop",
      "run CPU-heavy work on a worker thread and come back with event_active()",
      "hand the work to the loop thread with event_active() instead of sharing it under a lock"},
     {"libevent-", "libevent_core-"},
     {"epoll_dispatch", "poll_dispatch", "select_dispatch"},
     {"event_base_", "epoll_dispatch", "poll_dispatch", "select_dispatch", "event_process_active", "event_dispatch",
      "event_loop"}},
    {{"GLib",
      "g_task_run_in_thread() runs it on GLib's thread pool; GIO's *_async calls (g_file_read_async, "
      "g_resolver_lookup_by_name_async, g_socket_connection_factory...) do I/O without blocking the loop",
      "g_timeout_add() waits without blocking the loop",
      "g_task_run_in_thread() runs CPU-heavy work on GLib's thread pool",
      "hand the work to the loop's context with g_main_context_invoke() instead of sharing it under a lock"},
     {"libglib-2.0.so"},
     {"g_main_context_poll", "g_main_context_iterate", "g_poll"},
     {"g_main_", "g_poll"}},
    {{"Qt",
      "QtConcurrent::run() runs it on a worker thread; QHostInfo::lookupHost() and QNetworkAccessManager do "
      "lookups and I/O without blocking the loop",
      "QTimer::singleShot() waits without blocking the loop",
      "QtConcurrent::run() runs CPU-heavy work on a worker thread",
      "send the work to the loop thread as a queued signal or QMetaObject::invokeMethod(..., Qt::QueuedConnection) "
      "instead of sharing it under a lock"},
     {"libQt5Core.so", "libQt6Core.so"},
     {"QEventDispatcherUNIX::processEvents", "qt_safe_poll"},
     {"QEventLoop::", "QEventDispatcher", "QCoreApplication::exec", "QThread::exec", "qt_safe_poll"}},
    {{"libev",
      "run it on a worker thread and wake the loop with an ev_async watcher",
      "an ev_timer waits without blocking the loop",
      "run CPU-heavy work on a worker thread and wake the loop with an ev_async watcher",
      "hand the work to the loop thread through an ev_async watcher instead of sharing it under a lock"},
     {"libev.so"},
     {"epoll_poll", "poll_poll", "select_poll"},
     {"ev_run", "epoll_poll", "poll_poll", "select_poll"}},
    {{"sd-event",
      "run it on a worker thread and hand the result back through an event source (sd_event_add_io on an "
      "eventfd)",
      "sd_event_add_time() waits without blocking the loop",
      "run CPU-heavy work on a worker thread and hand the result back through an event source",
      "hand the work to the loop thread through an event source instead of sharing it under a lock"},
     {"libsystemd.so"},
     {"sd_event_wait"},
     {"sd_event_"}},
    {{"asio",
      "asio::post(thread_pool, ...) runs it off the loop; async_resolve(), async_read()/async_write() and "
      "async_connect() wait without blocking it",
      "a steady_timer's async_wait() waits without blocking the loop",
      "asio::post(thread_pool, ...) runs CPU-heavy work off the loop",
      "serialize the handlers that share it on a strand (asio::make_strand, or post to one) instead of a mutex"},
     {},
     // The scheduler's own functions: the symbol table's outermost name
     // where the reactor's run and posix_event::wait are inlined (-O2).
     {"asio::detail::epoll_reactor::run", "asio::detail::posix_event::wait", "asio::detail::io_uring_service::run",
      "asio::detail::scheduler::do_run_one", "asio::detail::scheduler::do_wait_one"},
     {"asio::detail::", "asio::io_context::"}},
};
constexpr std::size_t kAsio = 6;

const Loop kOwnLoop{"event", "run it on a worker thread and hand the result back to the loop",
                    "a timer of the loop waits without blocking it",
                    "run CPU-heavy work on a worker thread and hand the result back to the loop",
                    "hand the work to the loop thread instead of sharing it under a lock"};

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

std::string_view base_name(const char* path) {
  if (!path) return {};
  const char* slash = std::strrchr(path, '/');
  return slash ? slash + 1 : path;
}

// --- executable ranges of loop libraries and sanitizer runtimes ---

struct Range {
  std::uintptr_t lo, hi;
  const Loop* loop;  // nullptr: a sanitizer runtime
};

struct Ranges {
  watch::VisibleMutex mu;
  std::vector<Range> ranges;
  unsigned long long generation = ~0ull;  // dlpi_adds + dlpi_subs when built
};
Ranges& ranges() {
  return detail::made_once<Ranges>();  // used by threads that may outlive statics
}

const Loop* loop_of_object(std::string_view name, bool* sanitizer) {
  *sanitizer = false;
  for (const Known& k : kKnown) {
    for (std::string_view o : k.objects) {
      if (starts_with(name, o)) return &k.loop;
    }
  }
  for (std::string_view s : {"libasan", "libtsan", "liblsan", "libhwasan"}) {
    if (starts_with(name, s)) *sanitizer = true;
  }
  return nullptr;
}

int add_ranges(dl_phdr_info* info, std::size_t, void* data) {
  auto* out = static_cast<std::vector<Range>*>(data);
  bool sanitizer = false;
  const Loop* loop = loop_of_object(base_name(info->dlpi_name), &sanitizer);
  if (!loop && !sanitizer) return 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
    const std::uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
    out->push_back({lo, lo + ph.p_memsz, loop});
  }
  return 0;
}

int read_generation(dl_phdr_info* info, std::size_t, void* data) {
  *static_cast<unsigned long long*>(data) = info->dlpi_adds + info->dlpi_subs;
  return 1;  // the counters are the same in every entry
}

// Rebuilt when objects were loaded or unloaded since (checked only when a
// call site is judged, which the per-site cache makes rare).
void refresh_ranges() {
  unsigned long long generation = 0;
  dl_iterate_phdr(read_generation, &generation);
  Ranges& r = ranges();
  std::lock_guard lk(r.mu);
  if (generation == r.generation) return;
  std::vector<Range> fresh;
  dl_iterate_phdr(add_ranges, &fresh);
  r.ranges.swap(fresh);
  r.generation = generation;
  refresh_entry_hooks();  // objects were loaded: their loop calls too
}

bool find_range(std::uintptr_t pc, Range* out) {
  Ranges& r = ranges();
  std::lock_guard lk(r.mu);
  for (const Range& range : r.ranges) {
    if (pc >= range.lo && pc < range.hi) {
      *out = range;
      return true;
    }
  }
  return false;
}

// --- the program's own loops, by name ---

watch::VisibleMutex g_own_mu;
std::vector<std::string> g_own_functions;

// --- per call site verdicts ---

constexpr int kSlots = 512;
constexpr std::uint8_t kNotLoop = 0xff;
constexpr std::uint8_t kOwn = 0xfe;
std::atomic<std::uintptr_t> g_sites[kSlots];
std::atomic<std::uint8_t> g_verdicts[kSlots];  // 0 being judged, kNotLoop, kOwn, else 1 + index in kKnown

std::size_t first_slot(std::uintptr_t site) { return (site >> 4) * 0x9E3779B97F4A7C15ull >> 55; }  // 9 bits

std::uint8_t verdict_of(const Loop* loop) {
  if (!loop) return kNotLoop;
  if (loop == &kOwnLoop) return kOwn;
  for (std::size_t i = 0; i < std::size(kKnown); ++i) {
    if (&kKnown[i].loop == loop) return static_cast<std::uint8_t>(1 + i);
  }
  return kNotLoop;
}

const Loop* loop_of_verdict(std::uint8_t v) {
  if (v == kNotLoop || v == 0) return nullptr;
  if (v == kOwn) return &kOwnLoop;
  return &kKnown[v - 1].loop;
}

// Whether a function named `function` makes one of the loops' waits.
const Loop* loop_waiting_in(std::string_view function, bool fd_wait, const std::vector<std::string>& own) {
  for (const Known& k : kKnown) {
    if (!fd_wait && &k != &kKnown[kAsio]) continue;  // only Asio's idle threads wait on a condition
    for (std::string_view w : k.waiters) {
      if (function.find(w) != std::string_view::npos) return &k.loop;
    }
  }
  for (const std::string& name : own) {
    if (function.find(name) != std::string_view::npos) return &kOwnLoop;
  }
  return nullptr;
}

// kUndecided: no verdict yet (only the line tables could tell, and they are
// not read yet, or they are being read): not cached, judged again at the
// site's next wait.
const Loop kUndecided{"", "", "", "", ""};

const Loop* judge(std::uintptr_t site, bool fd_wait) {
  // Our time: inside a step, the scope keeps the watchdog away and restarts
  // the step's clock when it closes; InternalScope keeps our own calls
  // unreported.
  std::optional<unclog::AllowBlocking> ours;
  if (const watch::StepSlot* s = watch::t_bound_slot; s && (s->seq.load(std::memory_order_relaxed) & 1)) {
    ours.emplace("unclog judging a wait's call site");
  }
  calls::InternalScope internal;
  std::vector<std::string> own;
  {
    std::lock_guard lk(g_own_mu);
    own = g_own_functions;
  }
  // A condition wait's caller holds its mutex (Asio's scheduler lock, which
  // the pool's other threads take). While the first symbolization holds the
  // loader's list lock, a walk would wait for it with that mutex held, and
  // the other threads for us: such a wait is judged by the ranges read
  // before and the symbol table (dladdr takes the loader's other lock), and
  // gets no verdict yet only where those cannot tell. Leaving every new
  // site undecided then made Asio's idle wait a part of the pool thread's
  // step: its 100-250 ms were reported as the loop library's own stall.
  const bool list_locked = !fd_wait && watch::reading_debug_information();
  if (!list_locked) refresh_ranges();
  Range r{};
  if (find_range(site, &r)) {
    if (fd_wait) return r.loop;
    // A condition wait is a loop's only as Asio's idle wait (header-only,
    // never inside a loop library) or under a function the user named: a
    // libuv worker's wait is judged without reading libuv's symbols, so
    // that thread never allocates (glibc would give it an arena of its own).
    if (r.loop && own.empty()) return nullptr;
  }
  const std::uintptr_t call = site - 1;  // inside the call instruction
  // By the symbol table: the function the call is in, read without debug
  // information, so the program never waits for that to be read.
  if (const Loop* l = loop_waiting_in(watch::function_symbol_at(call), fd_wait, own)) return l;
  // Its inlined levels need the line tables: only once a report has read
  // them (never read here: the first read holds the loader's lock for
  // 100 ms or more).
  std::vector<StackFrame> frames;
  if (!watch::symbolize_if_ready(&call, 1, &frames)) return &kUndecided;
  for (const StackFrame& f : frames) {
    if (const Loop* l = loop_waiting_in(f.function, fd_wait, own)) return l;
  }
  return nullptr;
}

// libunclog's executable segments, read once from our own program headers.
struct OwnCode {
  std::uintptr_t lo[4] = {}, hi[4] = {};
  int n = 0;
};
OwnCode own_code() {
  OwnCode c;
  Dl_info info{};
  if (!dladdr(reinterpret_cast<const void*>(&own_loop), &info) || !info.dli_fbase) return c;
  const auto base = reinterpret_cast<std::uintptr_t>(info.dli_fbase);
  const auto* eh = reinterpret_cast<const ElfW(Ehdr)*>(base);
  const auto* ph = reinterpret_cast<const ElfW(Phdr)*>(base + eh->e_phoff);
  for (int i = 0; i < eh->e_phnum && c.n < 4; ++i) {
    if (ph[i].p_type != PT_LOAD || !(ph[i].p_flags & PF_X)) continue;
    c.lo[c.n] = base + ph[i].p_vaddr;  // a shared object's first segment is at vaddr 0
    c.hi[c.n++] = base + ph[i].p_vaddr + ph[i].p_memsz;
  }
  return c;
}

}  // namespace

bool in_unclog(std::uintptr_t pc) noexcept {
  static const OwnCode c = own_code();
  for (int i = 0; i < c.n; ++i) {
    if (pc >= c.lo[i] && pc < c.hi[i]) return true;
  }
  return false;
}

const Loop& own_loop() noexcept { return kOwnLoop; }
const Loop& asio_loop() noexcept { return kKnown[kAsio].loop; }

bool loop_of_judged_wait(std::uintptr_t site, const Loop** loop) noexcept {
  const std::size_t h = first_slot(site);
  for (int probe = 0; probe < 8; ++probe) {
    const std::size_t i = (h + probe) % kSlots;
    const std::uintptr_t s = g_sites[i].load(std::memory_order_acquire);
    if (s == 0) return false;
    if (s != site) continue;
    const std::uint8_t v = g_verdicts[i].load(std::memory_order_acquire);
    *loop = loop_of_verdict(v);
    return v != 0;
  }
  return false;
}

const Loop* loop_of_wait(std::uintptr_t site, bool fd_wait) noexcept {
  const std::size_t h = first_slot(site);
  for (int probe = 0; probe < 8; ++probe) {
    const std::size_t i = (h + probe) % kSlots;
    const std::uintptr_t s = g_sites[i].load(std::memory_order_acquire);
    if (s == site) {
      const std::uint8_t v = g_verdicts[i].load(std::memory_order_acquire);
      if (v) return loop_of_verdict(v);
      break;  // being judged by another thread: judge it here too
    }
    if (s == 0) {
      std::uintptr_t expected = 0;
      if (!g_sites[i].compare_exchange_strong(expected, site, std::memory_order_acq_rel) && expected != site) continue;
      const Loop* loop = nullptr;
      try {
        loop = judge(site, fd_wait);
      } catch (...) {
      }
      if (loop == &kUndecided) return nullptr;  // the verdict stays 0: judged again next time
      g_verdicts[i].store(verdict_of(loop), std::memory_order_release);
      return loop;
    }
  }
  try {
    const Loop* loop = judge(site, fd_wait);  // the table is full around here
    return loop == &kUndecided ? nullptr : loop;
  } catch (...) {
    return nullptr;
  }
}

const Loop* loop_library_at(std::uintptr_t pc) noexcept {
  Range r{};
  return find_range(pc, &r) ? r.loop : nullptr;
}

bool is_loop_function(const Loop& loop, const char* function) noexcept {
  if (&loop == &kOwnLoop) return false;
  for (const Known& k : kKnown) {
    if (&k.loop != &loop) continue;
    for (std::string_view f : k.frames) {
      if (std::strstr(function, f.data())) return true;
    }
  }
  return false;
}

// clang links its sanitizer runtimes into the program itself: there an
// interceptor is a function of the program's, exported under the name of
// the libc function it wraps (or __interceptor_NAME). Only the waits we
// interpose reach here through one.
static bool is_linked_in_interceptor(std::uintptr_t pc) noexcept {
  Dl_info info{};
  if (!dladdr(reinterpret_cast<void*>(pc - 1), &info) || !info.dli_sname) return false;
  const std::string_view name = info.dli_sname;
  if (starts_with(name, "__interceptor_") || starts_with(name, "___interceptor_")) return true;
  if (!is_program_code(pc)) return false;
  for (std::string_view wait : {"epoll_wait", "epoll_pwait", "epoll_pwait2", "poll", "__poll", "ppoll", "select",
                                "pselect", "pthread_cond_wait", "pthread_cond_timedwait", "pthread_cond_clockwait"}) {
    if (name == wait) return true;
  }
  return false;
}

bool in_sanitizer_runtime(std::uintptr_t pc) noexcept {
  static const bool built = [] {  // before the first wait is judged
    try {
      refresh_ranges();
    } catch (...) {
    }
    return true;
  }();
  (void)built;
  Range r{};
  if (find_range(pc, &r)) return !r.loop;
  return is_linked_in_interceptor(pc);
}

const Loop* loop_named(const char* name) noexcept {
  for (const Known& k : kKnown) {
    if (std::strcmp(k.loop.name, name) == 0) return &k.loop;
  }
  return nullptr;
}

bool is_program_code(std::uintptr_t pc) noexcept {
  Dl_info info{};
  if (!dladdr(reinterpret_cast<void*>(pc), &info)) return false;
  const std::string_view name = base_name(info.dli_fname);
  for (std::string_view sys : {"libc.so", "ld-linux", "libstdc++", "libgcc_s", "libpthread", "libunclog", "libm.so"}) {
    if (starts_with(name, sys)) return false;
  }
  return true;
}

}  // namespace unclog::loops

namespace unclog {

void set_loop_functions(std::vector<std::string> names) {
  {
    std::lock_guard lk(loops::g_own_mu);
    loops::g_own_functions = std::move(names);
  }
  // Sites judged before may be waits of these functions: judge them again.
  for (auto& s : loops::g_sites) s.store(0, std::memory_order_relaxed);
}

}  // namespace unclog
