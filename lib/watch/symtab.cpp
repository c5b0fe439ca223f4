#include "symtab.hpp"

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

#include "symbolize.hpp"
#include "visible_mutex.hpp"

namespace unclog::watch {
namespace {

struct Symbol {
  std::uintptr_t start;
  std::uintptr_t size;
  const char* name;  // in the mapped file
};

// One object's functions, sorted by address. The file stays mapped (read
// only, shared with the page cache) for the names.
struct Table {
  std::vector<Symbol> symbols;
};

// Indexes the object mapped at `base` from its file.
Table read_table(const char* path, std::uintptr_t base) {
  Table t;
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return t;
  struct stat st {};
  void* map = MAP_FAILED;
  if (::fstat(fd, &st) == 0 && st.st_size > static_cast<off_t>(sizeof(ElfW(Ehdr)))) {
    map = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
  }
  ::close(fd);
  if (map == MAP_FAILED) return t;
  const auto* bytes = static_cast<const char*>(map);
  const std::size_t size = static_cast<std::size_t>(st.st_size);
  const auto* eh = reinterpret_cast<const ElfW(Ehdr)*>(bytes);
  const bool ok = std::memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0 && eh->e_ident[EI_CLASS] == ELFCLASS64 &&
                  eh->e_shoff != 0 && eh->e_shoff + std::size_t(eh->e_shnum) * sizeof(ElfW(Shdr)) <= size &&
                  eh->e_phoff + std::size_t(eh->e_phnum) * sizeof(ElfW(Phdr)) <= size;
  if (!ok) {
    ::munmap(map, size);
    return t;
  }
  // The load bias: where the object is minus where its first segment asked to be.
  std::uintptr_t first_vaddr = ~std::uintptr_t{0};
  const auto* ph = reinterpret_cast<const ElfW(Phdr)*>(bytes + eh->e_phoff);
  for (int i = 0; i < eh->e_phnum; ++i) {
    if (ph[i].p_type == PT_LOAD) first_vaddr = std::min<std::uintptr_t>(first_vaddr, ph[i].p_vaddr & ~std::uintptr_t{4095});
  }
  const std::uintptr_t bias = eh->e_type == ET_EXEC ? 0 : base - (first_vaddr == ~std::uintptr_t{0} ? 0 : first_vaddr);
  const auto* sh = reinterpret_cast<const ElfW(Shdr)*>(bytes + eh->e_shoff);
  const ElfW(Shdr)* symtab = nullptr;
  for (int pass = 0; pass < 2 && !symtab; ++pass) {
    for (int i = 0; i < eh->e_shnum; ++i) {
      if (sh[i].sh_type == (pass == 0 ? SHT_SYMTAB : SHT_DYNSYM)) symtab = &sh[i];
    }
  }
  if (!symtab || symtab->sh_link >= eh->e_shnum || symtab->sh_offset + symtab->sh_size > size) {
    ::munmap(map, size);
    return t;
  }
  const ElfW(Shdr)& strtab = sh[symtab->sh_link];
  if (strtab.sh_offset + strtab.sh_size > size) {
    ::munmap(map, size);
    return t;
  }
  const auto* syms = reinterpret_cast<const ElfW(Sym)*>(bytes + symtab->sh_offset);
  const std::size_t n = symtab->sh_size / sizeof(ElfW(Sym));
  for (std::size_t i = 0; i < n; ++i) {
    const ElfW(Sym)& s = syms[i];
    const int type = ELF64_ST_TYPE(s.st_info);
    if ((type != STT_FUNC && type != STT_GNU_IFUNC) || s.st_shndx == SHN_UNDEF || s.st_value == 0) continue;
    if (s.st_name >= strtab.sh_size) continue;
    t.symbols.push_back({bias + s.st_value, s.st_size, bytes + strtab.sh_offset + s.st_name});
  }
  std::sort(t.symbols.begin(), t.symbols.end(), [](const Symbol& a, const Symbol& b) { return a.start < b.start; });
  return t;
}

VisibleMutex g_mu;
std::map<std::uintptr_t, Table>* g_tables = nullptr;  // by object base; never freed (threads outlive statics)

}  // namespace

std::string function_symbol_at(std::uintptr_t pc) {
  Dl_info info{};
  if (!dladdr(reinterpret_cast<void*>(pc), &info) || !info.dli_fbase) return {};
  const auto base = reinterpret_cast<std::uintptr_t>(info.dli_fbase);
  const char* name = nullptr;
  {
    std::lock_guard lk(g_mu);
    if (!g_tables) g_tables = new std::map<std::uintptr_t, Table>;
    auto it = g_tables->find(base);
    if (it == g_tables->end()) {
      // The program itself has an empty or relative name (its argv[0]) in
      // the loader's list; libraries have the path they were found at.
      const char* path = info.dli_fname && info.dli_fname[0] == '/' ? info.dli_fname : "/proc/self/exe";
      it = g_tables->emplace(base, read_table(path, base)).first;
    }
    const std::vector<Symbol>& syms = it->second.symbols;
    auto s = std::upper_bound(syms.begin(), syms.end(), pc, [](std::uintptr_t p, const Symbol& x) { return p < x.start; });
    if (s != syms.begin()) {
      --s;
      if (s->size == 0 || pc < s->start + s->size) name = s->name;
    }
  }
  return name ? demangle(name) : std::string();
}

}  // namespace unclog::watch
