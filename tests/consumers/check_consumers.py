#!/usr/bin/env python3
"""Installs unclog into a temporary prefix, builds the consumer suites (plain
GoogleTest, and Boost.Asio with unclog-asio) the ways users do (meson
dependency and subproject, CMake find_package and pkg_check_modules,
pkg-config in a shell's $(...), a Makefile's $(shell ...), C++17 and
C++20, g++ and clang++), runs each build as CI would (XML output to a long
path, a long --gtest_filter) and checks the outcome: exit status 1, one
failure at the marked line of the suite with a blocking report, the other
tests passed, the XML saying the same, and no sign of two GoogleTests (a
double free at exit). One build runs under AddressSanitizer, one under
valgrind's memcheck.

usage: check_consumers.py SOURCE_ROOT [WORK_DIR]"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
SUITE = os.path.join(HERE, "suite.cpp")
ASIO_SUITE = os.path.join(HERE, "asio_suite.cpp")


def run(cmd, **kw):
    print("$", " ".join(cmd), flush=True)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if r.returncode != 0:
        print(r.stdout)
        raise SystemExit(f"FAILED ({r.returncode}): {' '.join(cmd)}")
    return r.stdout


def blocking_line(source=SUITE):
    with open(source) as f:
        for n, line in enumerate(f, 1):
            if "CONSUMER-BLOCKING-LINE" in line:
                return n
    raise SystemExit("suite.cpp has no marked line")


def install_prefix(src, work):
    build, prefix = os.path.join(work, "unclog-build"), os.path.join(work, "prefix")
    run(["meson", "setup", build, src, "--prefix", prefix, "--wrap-mode=nodownload", "-Dtests=disabled",
         "-Dsamples=disabled", "-Dbenchmarks=disabled"])
    run(["meson", "install", "-C", build, "--quiet"])
    libdir = os.path.dirname(glob.glob(os.path.join(prefix, "**", "libunclog.so"), recursive=True)[0])
    return prefix, libdir


def project_copy(work, name):
    d = os.path.join(work, name)
    shutil.copytree(os.path.join(HERE, "project"), d)
    shutil.copy(SUITE, d)
    shutil.copy(ASIO_SUITE, d)
    shutil.copy(os.path.join(HERE, "own_main.cpp"), d)
    return d


def check_run(name, exe, env, failures, source=SUITE, wrapper=()):
    line = blocking_line(source)
    base = re.escape(os.path.basename(source))
    long_dir = os.path.join(os.path.dirname(exe), *(["a-rather-long-directory-name-as-ci-systems-make-them"] * 4))
    xml_path = os.path.join(long_dir, f"results-of-the-{name}-consumer-run.xml")
    # A long filter, as CI splits suites into shards: many patterns, ours among them.
    filt = ":".join([f"SomeOtherSuite{i:03d}.SomeRatherLongTestNameThatMatchesNothing*" for i in range(150)] +
                    ["Consumer.*"])
    r = subprocess.run([*wrapper, exe, f"--gtest_output=xml:{xml_path}", f"--gtest_filter={filt}"], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)
    out = r.stdout + r.stderr
    problems = []
    if r.returncode != 1:
        problems.append(f"exit status {r.returncode}, expected 1 (one failing test)")
    for bad in ("double free", "free(): invalid", "AddressSanitizer", "corrupted"):
        if bad in out:
            problems.append(f"output mentions {bad!r}")
    if not re.search(rf"{base}:{line}\b", out):
        problems.append(f"no failure at {os.path.basename(source)}:{line}")
    for want in ("[  FAILED  ] Consumer.BlockingCallFails", "[       OK ] Consumer.QuietPasses", "blocking", "usleep"):
        if want not in out:
            problems.append(f"output lacks {want!r}")
    try:
        cases = {c.get("name"): c for c in ET.parse(xml_path).getroot().iter("testcase")}
        bad_case = cases.get("BlockingCallFails")
        msgs = [f.get("message", "") for f in bad_case.iter("failure")] if bad_case is not None else []
        if not any(f"{os.path.basename(source)}:{line}" in m and "blocking" in m for m in msgs):
            problems.append(f"XML: BlockingCallFails has no failure at {os.path.basename(source)}:{line}: {msgs}")
        good = cases.get("QuietPasses")
        if good is None or list(good.iter("failure")):
            problems.append("XML: QuietPasses missing or failed")
    except (OSError, ET.ParseError) as e:
        problems.append(f"XML {xml_path}: {e}")
    status = "ok" if not problems else "FAILED"
    print(f"{name}: {status}", flush=True)
    for p in problems:
        print(f"  {p}")
    if problems:
        print(out)
        failures.append(name)


def check_cmake_extras(d, env, failures):
    """The find_package project's other targets: one with its own main (which
    must win over unclog::gtest_main's), one built with -fno-exceptions
    -fno-rtti; and our glue compiled once for all of them, not per target."""
    r = subprocess.run([os.path.join(d, "b", "own_main")], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=300)
    problems = []
    if r.returncode != 0 or "OWN-MAIN-RAN" not in r.stdout or "[  PASSED  ] 1 test" not in r.stdout:
        problems.append(f"own_main: exit {r.returncode}, its main or its test did not run:\n{r.stdout}")
    with open(os.path.join(d, "b", "compile_commands.json")) as f:
        glue = [c["file"] for c in json.load(f) if "unclog_gtest" in c["file"] or "unclog/gtest/" in c["file"]]
    if len(glue) != 2:
        problems.append(f"the glue is compiled {len(glue)} times, expected 2 (one unity file and main): {glue}")
    print(f"cmake-find_package-extras: {'ok' if not problems else 'FAILED'}", flush=True)
    for p in problems:
        print(f"  {p}")
    if problems:
        failures.append("cmake-find_package-extras")
    check_run("cmake-find_package-no-exceptions", os.path.join(d, "b", "no_exceptions"), env, failures)


BUILD_TIME_CMAKE = """cmake_minimum_required(VERSION 3.16)
project(build_time CXX)
set(CMAKE_CXX_STANDARD 17)
# Test builds carry debug information (our package adds -g, for file:line
# in reports): both sides are built so, to compare like with like.
set(CMAKE_BUILD_TYPE Debug)
find_package(GTest REQUIRED)
if(MAIN STREQUAL "unclog")
  find_package(unclog 0.1 CONFIG REQUIRED)
  set(main_target unclog::gtest_main)
else()
  set(main_target GTest::gtest_main)
endif()
foreach(i RANGE 9)
  add_executable(t${i} t${i}.cpp)
  target_link_libraries(t${i} PRIVATE GTest::gtest ${main_target})
endforeach()
"""


def build_time_ratio(work, env):
    """A suite of 10 test programs built once with GoogleTest's main and once
    with ours (-j2, from clean): prints the ratio of the wall times. Not
    asserted (a loaded machine moves it); docs/PERFORMANCE.md records it."""
    import time
    times = {}
    for main_kind in ("gtest", "unclog"):
        d = os.path.join(work, f"build-time-{main_kind}")
        os.makedirs(d)
        with open(os.path.join(d, "CMakeLists.txt"), "w") as f:
            f.write(BUILD_TIME_CMAKE)
        for i in range(10):
            with open(os.path.join(d, f"t{i}.cpp"), "w") as f:
                f.write("#include <gtest/gtest.h>\n#include <string>\n" +
                        "".join(f"TEST(T{i}, Case{j}) {{ EXPECT_EQ(std::to_string({j}), \"{j}\"); }}\n"
                                for j in range(5)))
        run(["cmake", "-S", d, "-B", os.path.join(d, "b"), f"-DMAIN={main_kind}"], env=env)
        start = time.monotonic()
        run(["cmake", "--build", os.path.join(d, "b"), "-j2"], env=env)
        times[main_kind] = time.monotonic() - start
    print(f"ratio build_time_unclog_vs_gtest {times['unclog'] / times['gtest']:.3f} "
          f"(10 test programs, -j2: GoogleTest's main {times['gtest']:.1f} s, unclog's {times['unclog']:.1f} s)",
          flush=True)


def main():
    src = os.path.abspath(sys.argv[1])
    work = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="unclog-consumers-")
    os.makedirs(work, exist_ok=True)
    prefix, libdir = install_prefix(src, work)
    pcdir = os.path.join(libdir, "pkgconfig")
    env = dict(os.environ, PKG_CONFIG_PATH=pcdir, CMAKE_PREFIX_PATH=prefix)
    env.pop("LD_LIBRARY_PATH", None)  # each consumer must find libunclog by its own RUNPATH
    env.pop("UNCLOG_MODE", None)
    failures = []

    # meson, unclog as a subproject (built from the source tree).
    d = project_copy(work, "meson-subproject")
    os.makedirs(os.path.join(d, "subprojects"))
    os.symlink(src, os.path.join(d, "subprojects", "unclog"))
    run(["meson", "setup", os.path.join(d, "b"), d, "-Dvia=subproject", "--wrap-mode=nodownload"], env=env)
    run(["meson", "compile", "-C", os.path.join(d, "b")], env=env)
    check_run("meson-subproject", os.path.join(d, "b", "consumer"), env, failures)

    # meson, the installed unclog through pkg-config.
    d = project_copy(work, "meson-pkgconfig")
    run(["meson", "setup", os.path.join(d, "b"), d, "-Dvia=pkgconfig", f"-Drpath={libdir}"], env=env)
    run(["meson", "compile", "-C", os.path.join(d, "b")], env=env)
    check_run("meson-pkgconfig", os.path.join(d, "b", "consumer"), env, failures)

    # CMake, find_package and pkg_check_modules.
    for via in ("find_package", "pkg_check_modules"):
        d = project_copy(work, f"cmake-{via}")
        run(["cmake", "-S", d, "-B", os.path.join(d, "b"), f"-DVIA={via}"], env=env)
        run(["cmake", "--build", os.path.join(d, "b")], env=env)
        check_run(f"cmake-{via}", os.path.join(d, "b", "consumer"), env, failures)
        if via == "find_package":
            check_cmake_extras(d, env, failures)

    # g++ and pkg-config, the user's gtest first and last; the first under ASan.
    flags = run(["pkg-config", "--cflags", "--libs", "unclog-gtest-main"], env=env).split()
    rpath = f"-Wl,-rpath,{libdir}"
    builds = {
        "gxx-gtest-first-asan": ["-fsanitize=address", "-lgtest", "-lgmock"] + flags,
        "gxx-gtest-last": flags + ["-lgmock", "-lgtest"],
    }
    for name, args in builds.items():
        exe = os.path.join(work, name)
        run(["g++", "-std=c++20", SUITE, "-o", exe, rpath] + args, env=env)
        check_run(name, exe, env, failures)
    # The same program as a user's CI runs it under valgrind's memcheck: the
    # same verdicts, no memcheck error (exit 9 otherwise).
    if shutil.which("valgrind"):
        check_run("gxx-gtest-last-memcheck", os.path.join(work, "gxx-gtest-last"), env, failures,
                  wrapper=("valgrind", "-q", "--error-exitcode=9", "--errors-for-leak-kinds=none"))
    else:
        print("gxx-gtest-last-memcheck: FAILED\n  valgrind is not installed (scripts/install-deps)")
        failures.append("gxx-gtest-last-memcheck")

    # The Asio package and C++17, the documented ways once more: pkg-config
    # through a shell's $(...) and a Makefile's $(shell ...) (flags a shell
    # would have to unescape break these two only), meson, and CMake, whose
    # C++17 project must stay C++17.
    d = project_copy(work, "shell-pkgconfig-asio-cxx17")
    exe = os.path.join(d, "consumer")
    run(["bash", "-c", f"g++ -std=c++17 asio_suite.cpp -o {exe} {rpath} "
         "$(pkg-config --cflags --libs unclog-asio unclog-gtest-main) -lgmock -lgtest"], env=env, cwd=d)
    check_run("shell-pkgconfig-asio-cxx17", exe, env, failures, ASIO_SUITE)

    d = project_copy(work, "makefile-pkgconfig-asio")
    run(["make", "-s", "-C", d, "SUITE=asio_suite.cpp", "PACKAGES=unclog-asio unclog-gtest-main", f"RPATH={libdir}"],
        env=env)
    check_run("makefile-pkgconfig-asio", os.path.join(d, "consumer"), env, failures, ASIO_SUITE)

    d = project_copy(work, "makefile-pkgconfig-cxx17")
    run(["make", "-s", "-C", d, "STD=c++17", f"RPATH={libdir}"], env=env)
    check_run("makefile-pkgconfig-cxx17", os.path.join(d, "consumer"), env, failures)

    d = project_copy(work, "makefile-pkgconfig-no-exceptions")
    run(["make", "-s", "-C", d, "EXTRA=-fno-exceptions -fno-rtti", f"RPATH={libdir}"], env=env)
    check_run("makefile-pkgconfig-no-exceptions", os.path.join(d, "consumer"), env, failures)

    # clang, with the flags pkg-config gives (made for g++ when unclog was
    # built): our headers and glue must compile with it, C++17 and C++20.
    for std in ("c++17", "c++20"):
        name = f"makefile-pkgconfig-clang-{std.replace('+', 'x')}"
        d = project_copy(work, name)
        run(["make", "-s", "-C", d, "CXX=clang++", f"STD={std}", f"RPATH={libdir}"], env=env)
        check_run(name, os.path.join(d, "consumer"), env, failures)

    d = project_copy(work, "meson-subproject-asio-cxx17")
    os.makedirs(os.path.join(d, "subprojects"))
    os.symlink(src, os.path.join(d, "subprojects", "unclog"))
    run(["meson", "setup", os.path.join(d, "b"), d, "-Dvia=subproject", "-Dsuite=asio_suite.cpp", "-Dcpp_std=c++17",
         "--wrap-mode=nodownload"], env=env)
    run(["meson", "compile", "-C", os.path.join(d, "b")], env=env)
    check_run("meson-subproject-asio-cxx17", os.path.join(d, "b", "consumer"), env, failures, ASIO_SUITE)

    for via in ("find_package", "pkg_check_modules"):
        name = f"cmake-{via}-asio-cxx17"
        d = project_copy(work, name)
        run(["cmake", "-S", d, "-B", os.path.join(d, "b"), f"-DVIA={via}", "-DSUITE=asio_suite.cpp",
             "-DCMAKE_CXX_STANDARD=17"], env=env)
        run(["cmake", "--build", os.path.join(d, "b")], env=env)
        with open(os.path.join(d, "b", "compile_commands.json")) as f:
            commands = f.read()
        if "++20" in commands or "++17" not in commands:
            print(f"{name}: FAILED\n  the C++17 project was not compiled as C++17:\n{commands}")
            failures.append(name)
        check_run(name, os.path.join(d, "b", "consumer"), env, failures, ASIO_SUITE)

    # CMake with GoogleTest built from source by FetchContent (Debian's copy
    # of GoogleTest's sources stands in for the download), unclog found
    # before and after it, and once with the legacy test-case API removed:
    # our glue must compile against that GoogleTest, never the system's.
    gtest_src = "/usr/src/googletest"
    if os.path.isdir(os.path.join(gtest_src, "googletest")):
        # The last one with clang: GoogleTest and our glue both built by it.
        for order, legacy, cxx in (("unclog_first", "ON", "c++"), ("gtest_first", "ON", "c++"),
                                   ("gtest_first", "OFF", "c++"), ("gtest_first", "ON", "clang++")):
            name = (f"cmake-fetchcontent-{order}" + ("-no-legacy-api" if legacy == "OFF" else "")
                    + ("-clang" if cxx == "clang++" else ""))
            d = project_copy(work, name)
            shutil.copy(os.path.join(HERE, "fetch_project", "CMakeLists.txt"), d)
            run(["cmake", "-S", d, "-B", os.path.join(d, "b"), f"-DORDER={order}", f"-DLEGACY_API={legacy}",
                 f"-DCMAKE_CXX_COMPILER={cxx}",
                 f"-DFETCHCONTENT_SOURCE_DIR_GOOGLETEST={gtest_src}", "-DFETCHCONTENT_FULLY_DISCONNECTED=ON"],
                env=env)
            run(["cmake", "--build", os.path.join(d, "b"), "-j2"], env=env)
            with open(os.path.join(d, "b", "compile_commands.json")) as f:
                commands = json.load(f)
            glue = [c for c in commands if "unclog/gtest/" in c["file"] or "unclog_gtest" in c["file"]]
            fetched = os.path.join(gtest_src, "googletest", "include")
            if not glue or not all(fetched in c["command"] for c in glue):
                print(f"{name}: FAILED\n  our glue was not compiled against the fetched GoogleTest:\n{glue}")
                failures.append(name)
            check_run(name, os.path.join(d, "b", "consumer"), env, failures)
    else:
        print(f"cmake-fetchcontent: skipped ({gtest_src} has no GoogleTest sources: apt-get install googletest)")

    build_time_ratio(work, env)

    if failures:
        raise SystemExit(f"consumers failed: {', '.join(failures)}")
    print("all consumers ok")
    if len(sys.argv) <= 2:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
