// Makes io_uring_setup fail with EPERM, as Docker's default seccomp profile
// does, then runs a hub: it must fall back to epoll and work. With argument
// "strict" it runs with UNCLOG_BACKEND=io_uring and must fail clearly.
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "unclog/unclog.hpp"

using namespace std::chrono_literals;

namespace {

bool refuse_io_uring() {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
  return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

int fail(const char* what) {
  std::fprintf(stderr, "seccomp_fallback: %s\n", what);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const bool strict = argc > 1 && std::string(argv[1]) == "strict";
  if (!refuse_io_uring()) return fail("cannot install the seccomp filter");
  if (strict) setenv("UNCLOG_BACKEND", "io_uring", 1); else unsetenv("UNCLOG_BACKEND");
  try {
    std::string backend;
    std::string got;
    unclog::run([&] {
      backend = unclog::io::backend_name();
      int fds[2];
      if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
      auto reader = unclog::spawn([&] {
        char buf[8];
        ssize_t n = unclog::io::read(fds[0], buf, sizeof buf, 2s);
        if (n > 0) got.assign(buf, static_cast<std::size_t>(n));
      });
      unclog::sleep_for(10ms);
      unclog::io::write(fds[1], "green", 5);
      reader.join();
      char c;
      if (unclog::io::read(fds[0], &c, 1, 20ms) != -1 || errno != ETIMEDOUT) throw std::runtime_error("no timeout");
    });
    std::printf("backend %s, read '%s'\n", backend.c_str(), got.c_str());
    return backend == "epoll" && got == "green" ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 3;
  }
}
