#!/usr/bin/env python3
"""Every include directory the uninstalled pkg-config files name exists.

A user who points PKG_CONFIG_PATH at build/meson-uninstalled and asks CMake
for pkg_check_modules(... IMPORTED_TARGET) gets "includes non-existent
path" for any -I that is missing. Usage: check_uninstalled_pc.py BUILD_DIR
"""
import os
import subprocess
import sys

build = sys.argv[1]
pc_dir = os.path.join(build, "meson-uninstalled")
env = dict(os.environ, PKG_CONFIG_PATH=pc_dir)
names = sorted(f[: -len("-uninstalled.pc")] for f in os.listdir(pc_dir) if f.endswith("-uninstalled.pc"))
if not names:
    sys.exit(f"no uninstalled .pc files in {pc_dir}")
missing = []
for name in names:
    out = subprocess.run(["pkg-config", "--cflags-only-I", name], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"pkg-config --cflags-only-I {name} failed: {out.stderr.strip()}")
    for flag in out.stdout.split():
        if flag.startswith("-I") and not os.path.isdir(flag[2:]):
            missing.append(f"{name}: {flag[2:]}")
if missing:
    sys.exit("include directories that do not exist:\n  " + "\n  ".join(missing))
print(f"{len(names)} uninstalled .pc files; every include directory exists")
