// The function a pc is in, by the ELF symbol table of its object (.symtab,
// else .dynsym): no debug information is read, so nothing the program does
// waits for it (libbacktrace's first lookup reads every object's line
// tables inside dl_iterate_phdr, holding the loader's lock for 100 ms or
// more). Only the outermost function: inlined levels need the line tables
// (symbolize.hpp).
//
// Thread-safety: any thread. A mutex of ours guards the per-object cache
// and is held while one object's table is indexed (a few ms for a large
// program, once). Not for signal handlers.
#pragma once
#include <cstdint>
#include <string>

namespace unclog::watch {

// Demangled name of the function containing `pc`; "" when no symbol covers it.
std::string function_symbol_at(std::uintptr_t pc);

}  // namespace unclog::watch
