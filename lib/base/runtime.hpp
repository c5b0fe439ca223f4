// What runs the program besides itself: valgrind, ThreadSanitizer, any
// sanitizer runtime. Decided once, in one place, for every layer that
// must behave differently under them (traps, sampling, loop frames).
// (A debugger or tracer can attach at any time: watch/tracer.hpp looks.)
//
// Thread-safety: any thread. Async-signal-safe after the first call of each
// (a library constructor makes it; the answers are plain loads then).
#pragma once

namespace unclog::detail {

// Valgrind preloads its vgpreload_*.so into every program it runs.
bool under_valgrind() noexcept;
// ThreadSanitizer's runtime is in the process (GCC's libtsan, or clang's
// linked into the program).
bool under_tsan() noexcept;
// AddressSanitizer's or ThreadSanitizer's: their interceptors call our
// interposed functions for the program.
bool under_sanitizer() noexcept;

}  // namespace unclog::detail
