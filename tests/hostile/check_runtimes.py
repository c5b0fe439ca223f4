"""Programs under valgrind and ThreadSanitizer, where unclog must watch less
and never kill: a watched test binary under memcheck (0 errors, the notice,
the test results it has without valgrind), and a TSan consumer compiled
here against the normal libunclog.

usage: check_runtimes.py HOSTILE_TEST SOURCE_ROOT LIBDIR CXX
"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

hostile, root, libdir, cxx = sys.argv[1:5]
failures = 0


def check(name, ok, detail=""):
    global failures
    print(("ok   " if ok else "FAIL ") + name)
    if not ok:
        failures += 1
        print("     " + detail.replace("\n", "\n     ")[-4000:])


# Tests whose verdict does not depend on how fast the program runs (call
# mode, quiet code, the signal paths): valgrind slows everything ~30x.
MEMCHECK_FILTER = "SigsysBlocked.*:SigsysDisposition.*:NothingLost.*:OurTimeIsNotTheSteps.*:Files.*"

if shutil.which("valgrind"):
    with tempfile.TemporaryDirectory() as tmp:
        xml = os.path.join(tmp, "out.xml")
        p = subprocess.run(["valgrind", "--error-exitcode=99", "--errors-for-leak-kinds=none", "-q", hostile,
                            "--gtest_filter=" + MEMCHECK_FILTER, "--gtest_output=xml:" + xml],
                           capture_output=True, text=True, timeout=600)
        out = p.stdout + p.stderr
        check("memcheck: exit status 0 (no valgrind errors, no SIGSYS, tests pass)", p.returncode == 0, out)
        check("memcheck: the once-notice names valgrind",
              sum(line.startswith("unclog: system calls are not trapped (valgrind") for line in out.splitlines()) == 1, out)
        check("memcheck: the summary repeats it", "unclog: watched less: system calls are not trapped (valgrind" in out, out)
        check("memcheck: the XML was written", os.path.exists(xml) and "testsuites" in open(xml).read(), out)
else:
    check("valgrind is installed (scripts/install-deps)", False)

with tempfile.TemporaryDirectory() as tmp:
    exe = os.path.join(tmp, "tsan_consumer")
    src = os.path.join(root, "tests", "hostile", "tsan_consumer.cpp")
    build = subprocess.run([cxx, "-std=c++17", "-g", "-O1", "-fsanitize=thread", src, "-I" + os.path.join(root, "include"),
                            "-L" + libdir, "-lunclog", "-Wl,-rpath," + libdir, "-pthread", "-o", exe],
                           capture_output=True, text=True)
    check("TSan consumer builds against the normal libunclog (C++17)", build.returncode == 0, build.stderr)
    if build.returncode == 0:
        env = dict(os.environ, TSAN_OPTIONS="halt_on_error=1")
        p = subprocess.run([exe], capture_output=True, text=True, timeout=300, env=env)
        out = p.stdout + p.stderr
        check("TSan consumer: runs to its end, every planted call reported", p.returncode == 0, out)
        check("TSan consumer: the notice names ThreadSanitizer",
              "system calls are not trapped (ThreadSanitizer" in out, out)
        check("TSan consumer: no SIGSYS", "Bad system call" not in out and p.returncode != -31, out)

# A user's libuv test suite built with ThreadSanitizer, with our gtest glue
# compiled into it (as CMake's unclog::gtest does), against the normal
# libunclog: loop steps are found, judged and reported inside the loop's
# wait, which runs inside TSan's own epoll_wait interceptor, where TSan does
# not see our lock calls. No race may be reported (exit 66); the blocking
# tests fail and the clean ones pass.
uv = subprocess.run(["pkg-config", "--cflags", "--libs", "libuv"], capture_output=True, text=True)
if uv.returncode != 0:
    check("libuv is installed for the TSan loop suite (scripts/install-deps)", False, uv.stderr)
else:
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "uv_suite_tsan")
        glue = sorted(glob.glob(os.path.join(root, "gtest_ext", "*.cpp")))
        build = subprocess.run([cxx, "-std=c++17", "-g", "-O1", "-fsanitize=thread",
                                os.path.join(root, "tests", "loops", "uv_suite.cpp"), *glue,
                                "-I" + os.path.join(root, "include"), "-I" + os.path.join(root, "tests", "loops"),
                                *uv.stdout.split(), "-L" + libdir, "-lunclog", "-lgtest", "-Wl,-rpath," + libdir,
                                "-pthread", "-o", exe],
                               capture_output=True, text=True)
        check("TSan libuv suite builds (our glue compiled in, normal libunclog)", build.returncode == 0, build.stderr)
        if build.returncode == 0:
            xml = os.path.join(tmp, "out.xml")
            env = {k: v for k, v in os.environ.items() if not k.startswith(("UNCLOG_", "GTEST_"))}
            env["TSAN_OPTIONS"] = "halt_on_error=1"
            p = subprocess.run([exe, "--gtest_output=xml:" + xml], capture_output=True, text=True, timeout=300, env=env)
            out = p.stdout + p.stderr
            check("TSan libuv suite: no ThreadSanitizer report, exit 1 for the blocking tests",
                  p.returncode == 1 and "ThreadSanitizer: " not in out.replace("(ThreadSanitizer defers", ""), out)
            cases = {}
            if os.path.exists(xml):
                cases = {c.get("name"): [f.get("message", "") for f in c.iter("failure")]
                         for c in ET.parse(xml).getroot().iter("testcase")}
            # Each detail names only the cases it is about: the whole table
            # is longer than check() prints.
            clean = {n: cases.get(n) for n in ("Clean", "CleanInExpect")}
            check("TSan libuv suite: the clean loops pass", all(ms == [] for ms in clean.values()), str(clean))
            waits = {n: [m for m in ms if "epoll_wait" in m] for n, ms in cases.items()}
            waits = {n: ms for n, ms in waits.items() if ms}
            check("TSan libuv suite: the loop's own wait is never reported (the runtime's interceptor is skipped)",
                  not waits, str(waits))
            check("TSan libuv suite: a blocking callback fails its test",
                  any("blocking:" in m for name in ("Sleep", "SleepThenExit", "Call") for m in cases.get(name, [])),
                  str(cases))

sys.exit(1 if failures else 0)
