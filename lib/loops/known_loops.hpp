// The event loops unclog knows, and which one (if any) a wait call belongs to.
//
// A wait belongs to a loop when the code that calls it is in the loop's
// shared object (its executable ranges, from dl_iterate_phdr: works on
// stripped libraries) or, for loops compiled into the program, in a function
// whose name (any inlined level, from the line tables) is one of the loop's
// waiting functions. Verdicts are cached per call site.
//
// Thread-safety: any thread; lock-free after a site's first verdict. Not for
// signal handlers (judging a new site may read debug information).
#pragma once
#include <cstdint>

namespace unclog::loops {

struct Loop {
  const char* name;       // "libuv": reports say "libuv loop"
  const char* hint;       // remedy for a blocked step or a blocking call, in the loop's idiom
  const char* sleep_hint; // ... for a sleep
  const char* cpu_hint;   // ... for a CPU hog
  const char* lock_hint;  // ... for a contended lock (never an I/O call)
};

// The known loop called `name` ("libuv", "GLib", "Qt"), if any.
const Loop* loop_named(const char* name) noexcept;

// The loop of a hand-written wait (LoopWait, set_loop_functions()).
const Loop& own_loop() noexcept;
const Loop& asio_loop() noexcept;

// The loop whose wait for work this is, judged by the call site (a return
// address into the caller). `fd_wait`: an fd readiness wait (poll, epoll,
// select); otherwise a condition-variable wait, which only counts for loops
// known by name (Asio's idle scheduler threads: libuv's or GLib's condition
// waits are their thread pools', not their loops').
const Loop* loop_of_wait(std::uintptr_t site, bool fd_wait) noexcept;
// Whether `site` was judged already (a running loop's every wait), and its
// loop: one probe of loop_of_wait's table, which never holds our own
// sites nor a sanitizer's interceptors.
bool loop_of_judged_wait(std::uintptr_t site, const Loop** loop) noexcept;

// Whether `pc` is in a known loop library, and which loop that is. Cheap
// (a scan of a few ranges).
const Loop* loop_library_at(std::uintptr_t pc) noexcept;

// Whether a frame whose function is named `function` belongs to `loop`'s
// own machinery (for loops compiled into the program).
bool is_loop_function(const Loop& loop, const char* function) noexcept;

// Whether `pc` is in libunclog: our own waits (the watchdog's, the offload
// pool's, the epoll backend's) are no loop's, and are left alone before
// anything that could wait on a lock. Lock-free after the first call.
bool in_unclog(std::uintptr_t pc) noexcept;

// Whether `pc` is in a sanitizer runtime (its interceptors call our wait
// functions for the program; the real caller is further out). GCC loads
// the runtime as a library; clang links it into the program.
bool in_sanitizer_runtime(std::uintptr_t pc) noexcept;

// Whether `pc` is code of the program (not libc, the C++ runtime, the
// dynamic loader or unclog): a loop run from there is the program's.
bool is_program_code(std::uintptr_t pc) noexcept;

}  // namespace unclog::loops
