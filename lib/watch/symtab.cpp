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

// One object's functions: its mapped symbol table (read only, shared with
// the page cache) and the numbers of its function symbols sorted by
// address. Four bytes a function, allocated once at its final size: a copy
// of every symbol, grown by doubling, cost a test program twenty fresh
// pages at its first loop wait, and a page fault is 14 us on some guests.
struct Table {
  const ElfW(Shdr)* sections = nullptr;
  std::size_t section_count = 0;
  const ElfW(Sym)* syms = nullptr;
  const char* names = nullptr;
  std::size_t names_size = 0;
  std::uintptr_t bias = 0;
  std::vector<std::uint32_t> by_address;

  std::uintptr_t start(std::uint32_t i) const { return bias + syms[i].st_value; }
  // Whether `pc` is in symbol i. One without a size (_init, _fini, code
  // written in assembly) reaches to the end of its section, not past it.
  bool covers(std::uint32_t i, std::uintptr_t pc) const {
    const ElfW(Sym)& s = syms[i];
    if (s.st_size != 0) return pc < start(i) + s.st_size;
    if (s.st_shndx >= section_count) return false;
    const ElfW(Shdr)& sec = sections[s.st_shndx];
    return pc < bias + sec.sh_addr + sec.sh_size;
  }
};

bool is_function(const ElfW(Sym)& s, std::size_t names_size) {
  const int type = ELF64_ST_TYPE(s.st_info);
  return (type == STT_FUNC || type == STT_GNU_IFUNC) && s.st_shndx != SHN_UNDEF && s.st_value != 0 &&
         s.st_name < names_size;
}

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
  const auto* sh = reinterpret_cast<const ElfW(Shdr)*>(bytes + eh->e_shoff);
  const ElfW(Shdr)* symtab = nullptr;
  for (int pass = 0; pass < 2 && !symtab; ++pass) {
    for (int i = 0; i < eh->e_shnum; ++i) {
      if (sh[i].sh_type == (pass == 0 ? SHT_SYMTAB : SHT_DYNSYM)) symtab = &sh[i];
    }
  }
  const std::size_t n = symtab ? symtab->sh_size / sizeof(ElfW(Sym)) : 0;
  if (!symtab || symtab->sh_link >= eh->e_shnum || symtab->sh_offset + symtab->sh_size > size ||
      sh[symtab->sh_link].sh_offset + sh[symtab->sh_link].sh_size > size || n > UINT32_MAX) {
    ::munmap(map, size);
    return t;
  }
  t.sections = sh;
  t.section_count = eh->e_shnum;
  t.syms = reinterpret_cast<const ElfW(Sym)*>(bytes + symtab->sh_offset);
  t.names = bytes + sh[symtab->sh_link].sh_offset;
  t.names_size = sh[symtab->sh_link].sh_size;
  t.bias = eh->e_type == ET_EXEC ? 0 : base - (first_vaddr == ~std::uintptr_t{0} ? 0 : first_vaddr);
  std::size_t functions = 0;
  for (std::size_t i = 0; i < n; ++i) functions += is_function(t.syms[i], t.names_size);
  t.by_address.reserve(functions);
  for (std::size_t i = 0; i < n; ++i) {
    if (is_function(t.syms[i], t.names_size)) t.by_address.push_back(static_cast<std::uint32_t>(i));
  }
  std::sort(t.by_address.begin(), t.by_address.end(),
            [&t](std::uint32_t a, std::uint32_t b) { return t.syms[a].st_value < t.syms[b].st_value; });
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
    const Table& t = it->second;
    auto s = std::upper_bound(t.by_address.begin(), t.by_address.end(), pc,
                              [&t](std::uintptr_t p, std::uint32_t i) { return p < t.start(i); });
    if (s != t.by_address.begin() && t.covers(*--s, pc)) name = t.names + t.syms[*s].st_name;
  }
  return name ? demangle(name) : std::string();
}

}  // namespace unclog::watch
