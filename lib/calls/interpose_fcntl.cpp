// fcntl, under both of its names. With _FILE_OFFSET_BITS=64 (our build's,
// and many programs') <fcntl.h> calls it fcntl64; a program built without
// that flag calls fcntl. Both must be ours: a lock wait (F_SETLKW) is a
// blocking call, and a mode change must reach fd_modes. This file is
// compiled without the flag, so that each name is defined as itself.
#undef _FILE_OFFSET_BITS
#include <fcntl.h>
#include <stdarg.h>
#include <sys/syscall.h>

#include <atomic>

#include "classify.hpp"
#include "fd_modes.hpp"
#include "real.hpp"

namespace unclog::calls {
namespace {

template <class Real>
int interposed_fcntl(Real* real, int fd, int cmd, void* arg) {
  if (cmd == F_SETLKW || cmd == F_OFD_SETLKW) {
    if (watch::StepSlot* s = watching()) [[unlikely]] record(s, false, "fcntl(F_SETLKW)");
  }
  const int r = real_call(real, fd, cmd, arg);
  if (cmd == F_SETFL || cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) [[unlikely]] {
    const long args[6] = {fd, cmd};
    fd_modes::note_syscall(SYS_fcntl, args, r);
  }
  return r;
}

}  // namespace
}  // namespace unclog::calls

using namespace unclog::calls;

extern "C" {

// Every fcntl argument fits a pointer.
int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return interposed_fcntl(UNCLOG_REAL(fcntl), fd, cmd, arg);
}

int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return interposed_fcntl(UNCLOG_REAL(fcntl64), fd, cmd, arg);
}

}  // extern "C"
