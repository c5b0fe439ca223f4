#!/usr/bin/env python3
"""io_uring refused by seccomp: the hub falls back to epoll with one notice;
forcing io_uring fails with one clear line."""
import subprocess
import sys

exe = sys.argv[1]
failures = 0


def check(name, cond, detail):
    global failures
    print(("ok   " if cond else "FAIL ") + name)
    if not cond:
        failures += 1
        print("     " + detail)


p = subprocess.run([exe], capture_output=True, text=True, timeout=60)
check("fallback: exit 0 and epoll used", p.returncode == 0 and "backend epoll, read 'green'" in p.stdout,
      f"rc={p.returncode} out={p.stdout!r} err={p.stderr!r}")
check("fallback: one notice line", p.stderr.count("io_uring is refused here") == 1, repr(p.stderr))

p = subprocess.run([exe, "strict"], capture_output=True, text=True, timeout=60)
check("UNCLOG_BACKEND=io_uring under seccomp: clear error", p.returncode == 3
      and "io_uring setup failed: refused by the system" in p.stderr and "UNCLOG_BACKEND=epoll" in p.stderr,
      f"rc={p.returncode} err={p.stderr!r}")
sys.exit(1 if failures else 0)
