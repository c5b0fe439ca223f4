"""Programs under valgrind and ThreadSanitizer, where unclog must watch less
and never kill: a watched test binary under memcheck (0 errors, the notice,
the test results it has without valgrind), and a TSan consumer compiled
here against the normal libunclog.

usage: check_runtimes.py HOSTILE_TEST SOURCE_ROOT LIBDIR CXX
"""
import os
import shutil
import subprocess
import sys
import tempfile

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

sys.exit(1 if failures else 0)
