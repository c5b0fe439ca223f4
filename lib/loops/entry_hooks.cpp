#include "entry_hooks.hpp"

#if defined(__x86_64__)
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string_view>
#include <utility>

#include "known_loops.hpp"
#include "loop_frame.hpp"
#include "loop_steps.hpp"
#include "watch/config.hpp"
#include "watch/sampler.hpp"
#include "watch/visible_mutex.hpp"
#include "watch/watch_internal.hpp"
#include "base/tsan_sync.hpp"

namespace unclog::loops {
namespace {

// Every loop run function takes at most three integer or pointer arguments
// and returns an integer (or nothing): forwarding rdi, rsi and rdx and
// returning rax calls any of them faithfully (SysV x86-64).
using RunFn = std::uintptr_t (*)(std::uintptr_t, std::uintptr_t, std::uintptr_t);

struct Entry {
  const char* symbol;  // as in the dynamic symbol table
  const char* shown;   // in the step's label: "uv_run (thread N)"
  const char* loop;    // Loop::name
  std::atomic<RunFn> real{nullptr};
  // loop_named(loop), found at the first entry: the table of loops is a
  // static of another file, not yet built when our constructor hooks.
  std::atomic<const Loop*> known{nullptr};
};

Entry g_entries[] = {
    {"uv_run", "uv_run", "libuv", {}},
    {"event_base_loop", "event_base_loop", "libevent", {}},
    {"event_base_dispatch", "event_base_dispatch", "libevent", {}},
    {"g_main_loop_run", "g_main_loop_run", "GLib", {}},
    {"g_main_context_iteration", "g_main_context_iteration", "GLib", {}},
    {"_ZN10QEventLoop4execE6QFlagsINS_17ProcessEventsFlagEE", "QEventLoop::exec", "Qt", {}},
    {"_ZN16QCoreApplication4execEv", "QCoreApplication::exec", "Qt", {}},
    {"_ZN10QEventLoop13processEventsE6QFlagsINS_17ProcessEventsFlagEE", "QEventLoop::processEvents", "Qt", {}},
    {"_ZN16QCoreApplication13processEventsE6QFlagsIN10QEventLoop17ProcessEventsFlagEE",
     "QCoreApplication::processEvents", "Qt", {}},
    {"ev_run", "ev_run", "libev", {}},
    {"sd_event_run", "sd_event_run", "sd-event", {}},
    {"sd_event_loop", "sd_event_loop", "sd-event", {}},
};
constexpr int kEntries = sizeof g_entries / sizeof g_entries[0];

// The loop step an entry began: ended when the run function returns. Only
// a run entered outside any step begins one; inside a step (a hub fiber, an
// Asio handler, EXPECT_NO_BLOCKING, another loop's callback) the run's
// callbacks stay that step's, and its waits split it as before.
class EntryStep {
 public:
  EntryStep(Entry& e, std::uintptr_t cfa, std::uintptr_t ret) noexcept {
    const watch::Config& c = watch::config();
    if (!c.enabled.load(std::memory_order_relaxed) || !c.loop_steps.load(std::memory_order_relaxed)) [[likely]] return;
    try {
      watch::StepSlot* s = watch::attached_slot();
      if (!s) return;
      if (s->orphan_seq || s->in_loop_step.load(std::memory_order_relaxed)) [[unlikely]] watch::settle_loop_step(*s);
      if (s->seq.load(std::memory_order_relaxed) & 1) return;
      const Loop* loop = e.known.load(std::memory_order_relaxed);
      if (!loop) [[unlikely]] {
        loop = loop_named(e.loop);
        if (!loop) return;
        e.known.store(loop, std::memory_order_relaxed);
      }
      if (s->loop_cfa != cfa || s->loop_ret != ret || s->loop_kind != loop || !s->loop_by_entry) {
        LoopFrame f;
        f.cfa = cfa;
        f.ret = ret;
        f.loop = loop;
        std::snprintf(f.entry, sizeof f.entry, "%s", e.shown);
        name_loop(*s, f, nullptr);
        s->loop_cfa = cfa;
        s->loop_ret = ret;
        s->loop_site = loop;
        s->loop_refused = 0;
        s->loop_by_entry = 1;
      }
      start_step_on_frame(*s);
      slot_ = s;
    } catch (...) {
      // Out of memory attaching the thread: this run is watched from its first wait.
    }
  }
  ~EntryStep() {
    if (!slot_) return;
    // A loop step running now began in this run (at its entry or after one
    // of its waits): the loop is returning, so it ends here with its true
    // length. A step of another kind (a hub started in a callback) is not ours.
    try {
      if (slot_->in_loop_step.load(std::memory_order_relaxed)) end_loop_step(*slot_);
    } catch (...) {
      // Out of memory building the report: it is lost, the run goes on.
    }
    // The frame stays in the slot: the next run entered from the same call
    // site has the same frame and keeps its names (no formatting per
    // entry). Between runs it cannot pass for live: the word it checks holds
    // this return address again only while that same call runs.
  }
  EntryStep(const EntryStep&) = delete;
  EntryStep& operator=(const EntryStep&) = delete;

 private:
  watch::StepSlot* slot_ = nullptr;
};

// The frame pointer makes the frame's layout known: the return address at
// fp + 8, the caller's stack pointer before the call (the CFA) at fp + 16,
// which is what loop_frame_live checks. noinline: one frame per entry.
// Reports leave this frame out (watch/symbolize.cpp): keep the name.
template <int I>
__attribute__((noinline)) std::uintptr_t loop_entry_hook(std::uintptr_t a, std::uintptr_t b, std::uintptr_t c) {
  const auto fp = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
  const RunFn real = g_entries[I].real.load(std::memory_order_acquire);
  EntryStep step(g_entries[I], fp + 16, reinterpret_cast<std::uintptr_t>(__builtin_return_address(0)));
  return real(a, b, c);
}

template <int... I>
constexpr auto make_entries(std::integer_sequence<int, I...>) {
  return std::array<RunFn, sizeof...(I)>{&loop_entry_hook<I>...};
}
const auto kEntryFns = make_entries(std::make_integer_sequence<int, kEntries>{});

int find_entry(const char* name) noexcept {
  for (int i = 0; i < kEntries; ++i) {
    if (std::strcmp(g_entries[i].symbol, name) == 0) return i;
  }
  return -1;
}

bool is_system_library(std::string_view path) {
  for (std::string_view dir : {"/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/", "/usr/local/lib/"}) {
    if (path.substr(0, dir.size()) == dir) return true;
  }
  return false;
}

struct State {
  watch::VisibleMutex mu;
  unsigned long long generation = ~0ull;
  int hooked = 0;
};
State& state() {
  return detail::made_once<State>();  // used by threads that may outlive statics
}

// The dynamic section's pointers are relocated by the loader in place on
// x86-64 (not in the vDSO, which is skipped).
template <typename T>
T* dyn_ptr(const dl_phdr_info* info, ElfW(Addr) value) {
  return reinterpret_cast<T*>(value < info->dlpi_addr ? value + info->dlpi_addr : value);
}

// Writes our entry into one GOT slot, through mprotect when the slot is in
// the object's read-only-after-relocation range.
bool write_slot(std::uintptr_t* slot, RunFn fn, std::uintptr_t relro_lo, std::uintptr_t relro_hi) {
  const auto addr = reinterpret_cast<std::uintptr_t>(slot);
  if (*slot == reinterpret_cast<std::uintptr_t>(fn)) return false;
  const bool relro = addr >= relro_lo && addr < relro_hi;
  const std::uintptr_t page = addr & ~(static_cast<std::uintptr_t>(getpagesize()) - 1);
  if (relro && mprotect(reinterpret_cast<void*>(page), getpagesize(), PROT_READ | PROT_WRITE) != 0) return false;
  __atomic_store_n(slot, reinterpret_cast<std::uintptr_t>(fn), __ATOMIC_RELAXED);
  if (relro) mprotect(reinterpret_cast<void*>(page), getpagesize(), PROT_READ);
  return true;
}

int hook_object(dl_phdr_info* info, std::size_t, void* data) {
  auto* hooked = static_cast<int*>(data);
  const char* path = info->dlpi_name;
  // The executable (an empty name) and the program's own libraries. System
  // libraries are left alone: GIO's worker thread runs g_main_loop_run for
  // itself, never for the program.
  if (path && path[0] && (is_system_library(path) || std::strstr(path, "linux-vdso"))) return 0;
  const ElfW(Dyn)* dyn = nullptr;
  std::uintptr_t relro_lo = 0, relro_hi = 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_DYNAMIC) dyn = reinterpret_cast<const ElfW(Dyn)*>(info->dlpi_addr + ph.p_vaddr);
    if (ph.p_type == PT_GNU_RELRO) {
      relro_lo = info->dlpi_addr + ph.p_vaddr;
      relro_hi = relro_lo + ph.p_memsz;
    }
  }
  if (!dyn) return 0;
  // libunclog itself calls no loop; its own entries must never be rewritten.
  if (in_unclog(reinterpret_cast<std::uintptr_t>(dyn))) return 0;
  const ElfW(Sym)* symtab = nullptr;
  const char* strtab = nullptr;
  const ElfW(Rela)* tables[2] = {};
  std::size_t sizes[2] = {};
  for (const ElfW(Dyn)* d = dyn; d->d_tag != DT_NULL; ++d) {
    switch (d->d_tag) {
      case DT_SYMTAB: symtab = dyn_ptr<const ElfW(Sym)>(info, d->d_un.d_ptr); break;
      case DT_STRTAB: strtab = dyn_ptr<const char>(info, d->d_un.d_ptr); break;
      case DT_JMPREL: tables[0] = dyn_ptr<const ElfW(Rela)>(info, d->d_un.d_ptr); break;
      case DT_PLTRELSZ: sizes[0] = d->d_un.d_val; break;
      case DT_RELA: tables[1] = dyn_ptr<const ElfW(Rela)>(info, d->d_un.d_ptr); break;
      case DT_RELASZ: sizes[1] = d->d_un.d_val; break;
      default: break;
    }
  }
  if (!symtab || !strtab) return 0;
  for (int t = 0; t < 2; ++t) {
    if (!tables[t]) continue;
    for (std::size_t i = 0; i < sizes[t] / sizeof(ElfW(Rela)); ++i) {
      const ElfW(Rela)& r = tables[t][i];
      const auto type = ELF64_R_TYPE(r.r_info);
      if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT) continue;
      const ElfW(Sym)& sym = symtab[ELF64_R_SYM(r.r_info)];
      if (sym.st_shndx != SHN_UNDEF) continue;  // the loop's own library calling itself
      const char* name = strtab + sym.st_name;
      if (name[0] != 'u' && name[0] != 'e' && name[0] != 'g' && name[0] != '_' && name[0] != 's') continue;
      const int e = find_entry(name);
      if (e < 0) continue;
      if (!g_entries[e].real.load(std::memory_order_relaxed)) {
        void* real = dlsym(RTLD_DEFAULT, name);
        if (!real) {
          // Imported but defined nowhere (a weak import): drop the error
          // string now, or the program's next dlerror() reads it as its own.
          (void)dlerror();
          (void)dlerror();
          continue;
        }
        g_entries[e].real.store(reinterpret_cast<RunFn>(real), std::memory_order_release);
      }
      if (write_slot(reinterpret_cast<std::uintptr_t*>(info->dlpi_addr + r.r_offset), kEntryFns[e], relro_lo, relro_hi)) {
        ++*hooked;
      }
    }
  }
  return 0;
}

int read_generation(dl_phdr_info* info, std::size_t, void* data) {
  *static_cast<unsigned long long*>(data) = info->dlpi_adds;
  return 1;  // the same in every entry
}

// Before main: the first pass of a loop run by a static constructor, or by
// main itself, is watched as well.
__attribute__((constructor)) void hook_at_load() { install_entry_hooks(); }

}  // namespace

void install_entry_hooks() noexcept {
  unsigned long long generation = 0;
  dl_iterate_phdr(read_generation, &generation);
  State& s = state();
  std::lock_guard lk(s.mu);
  s.generation = generation;
  int hooked = 0;
  dl_iterate_phdr(hook_object, &hooked);
  s.hooked += hooked;
}

void refresh_entry_hooks() noexcept {
  unsigned long long generation = 0;
  dl_iterate_phdr(read_generation, &generation);
  {
    State& s = state();
    std::lock_guard lk(s.mu);
    if (generation == s.generation) return;
  }
  install_entry_hooks();
}

int entry_hook_count() noexcept {
  State& s = state();
  std::lock_guard lk(s.mu);
  return s.hooked;
}

}  // namespace unclog::loops

#else  // not x86-64: the loop frame's layout is unknown; steps begin at the first wait

namespace unclog::loops {
void install_entry_hooks() noexcept {}
void refresh_entry_hooks() noexcept {}
int entry_hook_count() noexcept { return 0; }
}  // namespace unclog::loops

#endif
