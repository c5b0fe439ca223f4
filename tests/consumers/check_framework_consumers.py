#!/usr/bin/env python3
"""Installs unclog into a temporary prefix and builds the Catch2 and doctest
suites of tests/frameworks outside this tree, the ways users do: CMake
find_package, meson with pkg-config, a Makefile's $(shell pkg-config ...)
with g++ (C++17) and clang++ (C++20). Each build is then judged by
tests/frameworks/check_frameworks.py: blocking test cases fail once at
their line in the console and the JUnit file, clean ones pass, a hang
names its test case.

usage: check_framework_consumers.py SOURCE_ROOT"""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from check_consumers import install_prefix, run  # noqa: E402

FRAMEWORKS = os.path.join(HERE, "..", "frameworks")


def project(work, name, fw):
    d = os.path.join(work, name)
    shutil.copytree(os.path.join(HERE, "framework_project"), d)
    for f in (f"{fw}_suite.cpp", "cases.hpp"):
        shutil.copy(os.path.join(FRAMEWORKS, f), d)
    return d


def judge(name, fw, exe, env, failures):
    sources = [os.path.join(FRAMEWORKS, "cases.hpp"), os.path.join(FRAMEWORKS, f"{fw}_suite.cpp")]
    r = subprocess.run([sys.executable, os.path.join(FRAMEWORKS, "check_frameworks.py"), exe] + sources,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, timeout=300)
    ok = r.returncode == 0
    print(f"{name}: {'ok' if ok else 'FAILED'}", flush=True)
    if not ok:
        print("  " + r.stdout.replace("\n", "\n  ")[-6000:])
        failures.append(name)


def main():
    src = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="unclog-framework-consumers-")
    prefix, libdir = install_prefix(src, work)
    env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(libdir, "pkgconfig"), CMAKE_PREFIX_PATH=prefix)
    env.pop("LD_LIBRARY_PATH", None)  # each consumer must find libunclog by its own RUNPATH
    failures = []
    for fw in ("catch2", "doctest"):
        d = project(work, f"cmake-{fw}", fw)
        run(["cmake", "-S", d, "-B", os.path.join(d, "b"), f"-DFW={fw}"], env=env)
        run(["cmake", "--build", os.path.join(d, "b"), "-j2"], env=env)
        judge(f"cmake-find_package-{fw}-cxx17", fw, os.path.join(d, "b", "consumer"), env, failures)

        d = project(work, f"meson-{fw}", fw)
        run(["meson", "setup", os.path.join(d, "b"), d, f"-Dfw={fw}", f"-Drpath={libdir}"], env=env)
        run(["meson", "compile", "-C", os.path.join(d, "b")], env=env)
        judge(f"meson-pkgconfig-{fw}-cxx17", fw, os.path.join(d, "b", "consumer"), env, failures)

        for cxx, std in (("g++", "c++17"), ("clang++", "c++20")):
            name = f"makefile-pkgconfig-{fw}-{cxx.rstrip('+')}-{std.replace('+', 'x')}"
            d = project(work, name, fw)
            run(["make", "-s", "-C", d, f"CXX={cxx}", f"STD={std}", f"FW={fw}", f"RPATH={libdir}"], env=env)
            judge(name, fw, os.path.join(d, "consumer"), env, failures)
    if failures:
        raise SystemExit(f"framework consumers failed: {', '.join(failures)}")
    print("all framework consumers ok")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
