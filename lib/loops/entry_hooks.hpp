// Loop entry hooks: a loop step begins when the program enters a known
// loop's run function (uv_run, event_base_loop, g_main_context_iteration,
// QEventLoop::exec, ...), not only when the loop's first wait returns, and
// ends when it returns. So the callbacks a loop runs before its first wait
// (due timers, idle, pending callbacks) and runs that never wait
// (UV_RUN_NOWAIT, EVLOOP_NONBLOCK, an iteration with may_block FALSE) are
// steps too.
//
// How: the calls' GOT slots in the program's objects (the executable and
// libraries outside the system's library directories) are rewritten to
// point at our entry functions, which call the loop's own. Loops linked
// into the program statically have no slot and keep being recognised at
// their first wait (ARCHITECTURE.md, "Loop steps").
//
// Thread-safety: install_entry_hooks() and refresh_entry_hooks() may run on
// any thread, serialised by a lock; a slot is one aligned word, so a thread
// calling the loop meanwhile calls either the loop or our entry, both
// right. x86-64 only (elsewhere these do nothing). Not for signal handlers.
#pragma once

namespace unclog::loops {

// Rewrites the slots of every loaded object not seen yet.
void install_entry_hooks() noexcept;
// The same, only when objects were loaded since the last time (one
// dl_iterate_phdr call otherwise): at each test's start and when the loop
// table is rebuilt.
void refresh_entry_hooks() noexcept;
// How many GOT slots point at our entries (tests, --unclog_debug).
int entry_hook_count() noexcept;

}  // namespace unclog::loops
