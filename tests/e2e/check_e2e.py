#!/usr/bin/env python3
"""End-to-end checks: run the deliberately blocking suite and check exit
status, failure text (kind, function, file:line), XML, summary line, flags
and environment, and the hang path."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from report_stacks import inner_ends, ours_at_inner_end  # noqa: E402

EXE, SOURCE = sys.argv[1], sys.argv[2]
FILE = os.path.basename(SOURCE)
failures = []
OUTPUTS = []  # every run's console, for the stack check at the end


def marks():
    out = {}
    with open(SOURCE) as f:
        for i, line in enumerate(f, 1):
            m = re.search(r"MARK:(\w+)", line)
            if m:
                out[m.group(1)] = i
    return out


MARK = marks()


def run(args, env_extra=None, timeout=60):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("UNCLOG_", "GTEST_", "GITHUB_")) or k == "UNCLOG_BACKEND"}
    env.update(env_extra or {})
    t0 = time.monotonic()
    p = subprocess.run([EXE] + args, capture_output=True, text=True, env=env, timeout=timeout)
    OUTPUTS.append(p.stdout + p.stderr)
    return p.returncode, p.stdout, p.stderr, time.monotonic() - t0


def check(name, cond, detail=""):
    status = "ok" if cond else "FAIL"
    print(f"{status:4} {name}")
    if not cond:
        failures.append(name)
        if detail:
            print("     " + detail.replace("\n", "\n     ")[:4000])


def load_trace(path):
    with open(path) as f:
        return json.load(f)["traceEvents"]


def check_trace(path, rc, output):
    try:
        events = load_trace(path)
    except (OSError, ValueError) as e:
        check("trace: valid JSON", False, f"{e}\n{output}")
        return
    check("trace: a hub's first step with the loader's lock held elsewhere is not reported",
          "[       OK ] Trace.LoaderBusyAtFirstStep" in output, output)
    names = {e["tid"]: e["args"]["name"] for e in events if e.get("ph") == "M" and e.get("name") == "thread_name"}
    fiber_track = {n.split(" ", 1)[1]: t for t, n in names.items() if n.startswith("fiber ")}
    check("trace: a named track per fiber", {"a", "b", "c"} <= set(fiber_track), str(names))
    slices = [e for e in events if e.get("ph") == "X"]
    test = [e for e in slices if e["name"] == "Trace.ThreeFibersOneBlocks" and names.get(e["tid"]) == "tests"]
    check("trace: the test's span on the tests track", len(test) == 1, str(test))
    if len(test) != 1 or not {"a", "b", "c"} <= set(fiber_track):
        return
    t0, t1 = test[0]["ts"], test[0]["ts"] + test[0]["dur"]
    abc = {fiber_track[n] for n in "abc"}
    steps = [e for e in slices if e["tid"] in abc and not e["name"].startswith("blocking (")]
    check("trace: every step of a, b and c nests in the test's span",
          steps and all(t0 - 1 <= e["ts"] and e["ts"] + e["dur"] <= t1 + 1 for e in steps), str(steps[:3]))
    long_b = [e for e in steps if e["tid"] == fiber_track["b"] and e["dur"] >= 100000]
    check("trace: b's blocking step lasts the stall", len(long_b) == 1, str([e for e in steps if e["tid"] == fiber_track["b"]]))
    reports = [e for e in slices if e["name"].startswith("blocking (")]
    check("trace: one report slice, on b's track, with its kind, call and line",
          len(reports) == 1 and reports[0]["tid"] == fiber_track["b"]
          and reports[0]["args"].get("kind") in ("call", "blocked")
          and f"{FILE}:{MARK['trace_block']}" in reports[0]["args"].get("where", ""), str(reports))
    if len(reports) == 1 and len(long_b) == 1:
        r, s = reports[0], long_b[0]
        check("trace: the report slice lies at the blocking step's time",
              s["ts"] - 5000 <= r["ts"] and r["ts"] + r["dur"] <= s["ts"] + s["dur"] + 5000, f"{r} {s}")
    waits = [e for e in slices if e["name"] == "wait for I/O"]
    check("trace: the hub's waits are on its thread's track",
          waits and all(names.get(e["tid"], "").startswith("hub (thread") for e in waits), str(waits[:3]))


def testcases(xml_path):
    root = ET.parse(xml_path).getroot()
    out = {}
    for tc in root.iter("testcase"):
        msgs = [f.get("message", "") + "\n" + (f.text or "") for f in tc.findall("failure")]
        out[tc.get("classname") + "." + tc.get("name")] = msgs
    return out


with tempfile.TemporaryDirectory() as tmp:
    # 1. The blocking tests fail at the user's line, with kind and function.
    xml = os.path.join(tmp, "out.xml")
    rc, out, err, _ = run(["--gtest_filter=Blocking.*:Plain.*", f"--gtest_output=xml:{xml}"])
    both = out + err
    check("exit status 1 when tests block", rc == 1, f"rc={rc}\n{both}")
    check("usleep failure names kind, function and file:line",
          f"{FILE}:{MARK['usleep']}" in out and "blocked" in out and "usleep" in out, out)
    check("spin failure is kind cpu at the spinning line",
          re.search(rf"{re.escape(FILE)}:{MARK['spin']}: Failure", out) is not None and "cpu" in out, out)
    check("clean tests pass", "[       OK ] Blocking.Clean " in out and "[       OK ] Blocking.CleanUnclogTest " in out, out)
    check("plain TEST bodies are not watched", "[       OK ] Plain.BlockingOutsideAnyHubIsNotReported " in out, out)
    check("summary line", re.search(r"^unclog: 2 blocking reports in 2 tests; worst \d+ ms \w+ in Blocking\.\w+ at .*:\d+$",
                                    out, re.M) is not None, out)
    worst = re.search(r"^unclog: .*; worst (\S+ ms) (\w+) in", out, re.M)
    check("summary: the worst figure is the one its report printed",
          worst is not None and f"held the hub for {worst.group(1)}" in out, out)
    cases = testcases(xml)
    check("XML: usleep failure carries the report",
          any(f"{FILE}:{MARK['usleep']}" in m and "usleep" in m for m in cases.get("Blocking.Usleep", [])), str(cases))
    check("XML: clean test has no failure", cases.get("Blocking.Clean") == [], str(cases))

    rc, out, err, _ = run(["--gtest_filter=Leftover.*"])
    check("fibers alive when a test ends are named", rc == 1 and "still alive when the test ended" in out
          and '"straggler"' in out, out)

    # gtest's own machinery keeps working: sharding, repeat, death tests.
    names = set()
    codes = []
    for index in range(2):
        rc, out, err, _ = run(["--gtest_filter=Blocking.*"], {"GTEST_TOTAL_SHARDS": "2", "GTEST_SHARD_INDEX": str(index)})
        codes.append(rc)
        names |= set(re.findall(r"^\[ RUN      \] (\S+)", out, re.M))
    check("sharding: the shards together run every test once",
          names == {"Blocking.Usleep", "Blocking.Clean", "Blocking.SpinInUnclogTest", "Blocking.CleanUnclogTest"},
          str(names))
    rc, out, err, _ = run(["--gtest_filter=Blocking.Usleep", "--gtest_repeat=2"])
    check("--gtest_repeat: one failure per repetition", rc == 1 and out.count("[  FAILED  ] Blocking.Usleep (") == 2
          and "unclog: 2 blocking reports in 1 test" in out, out)
    rc, out, err, _ = run(["--gtest_filter=Death.*"])
    check("death tests pass under our main", rc == 0 and "[  PASSED  ] 1 test" in out, out + err)

    # 2. Flags and environment.
    time_mode = {"UNCLOG_MODE": "time"}
    rc, out, err, _ = run(["--gtest_filter=Blocking.Usleep"], {"UNCLOG_RESOLUTION": "10s", **time_mode})
    check("UNCLOG_RESOLUTION=10s: a 150 ms sleep is within the resolution", rc == 0, out + err)
    rc, out, err, _ = run(["--gtest_filter=Blocking.Usleep", "--unclog_resolution=50ms"],
                          {"UNCLOG_RESOLUTION": "10s", **time_mode})
    check("the command line wins over the environment", rc == 1 and "usleep" in out and "blocked" in out,
          out + err)
    rc, out, err, _ = run(["--gtest_filter=Blocking.Usleep", "--unclog_resolution=10s"])
    check("call mode (the default) catches a sleep shorter than the resolution",
          rc == 1 and "(call): usleep" in out and f"{FILE}:{MARK['usleep']}" in out, out + err)
    rc, out, err, _ = run(["--gtest_filter=Blocking.Usleep", "--unclog_mode=calls", "--unclog_allow=slow_lookup"])
    check("--unclog_allow silences calls under the named function", rc == 0, out + err)
    rc, out, err, _ = run(["--gtest_filter=Blocking.Usleep", "--unclog_mode=off"])
    check("--unclog_mode=off runs tests unwatched", rc == 0, out + err)
    check("--unclog_mode=off: the summary says detection is off",
          re.search(r"^unclog: detection off$", out, re.M) is not None and "no blocking reports" not in out, out)
    rc, out, err, _ = run(["--gtest_filter=Syscalls.*"])
    if "system calls are not trapped" in err:
        print("skip: Syscall User Dispatch is unavailable here:", err.strip().splitlines()[0])
    else:
        check("default setup: fgets on a pipe is a trapped read, at its line, named fgets",
              rc == 1 and f"{FILE}:{MARK['fgets']}" in out and "pipe, blocking" in out and "in fgets" in out, out + err)
        rc, out, err, _ = run(["--gtest_filter=Syscalls.*", "--unclog_syscalls=off"])
        check("--unclog_syscalls=off: libc's own read is not seen", rc == 0, out + err)
    trace = os.path.join(tmp, "trace.json")
    rc, out, err, _ = run(["--gtest_filter=Trace.*", f"--unclog_trace={trace}"])
    check_trace(trace, rc, out + err)
    src_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(sys.argv[2]))))
    rc, out, err, _ = run(["--gtest_filter=Blocking.Usleep"], {"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": src_root})
    check("GITHUB_ACTIONS=true: an ::error command at the repository path and line",
          f"::error file=tests/e2e/blocking_suite.cpp,line={MARK['usleep']},title=blocking" in out, out)
    rc, out, err, _ = run(["--gtest_filter=Blocking.Usleep"])
    check("no annotations outside GitHub Actions", "::error" not in out, out)
    rc, out, err, _ = run(["--unclog_resolution=abc"])
    check("malformed flag: exit 2 naming the flag", rc == 2 and "--unclog_resolution" in err and "'abc'" in err,
          f"rc={rc} {err}")
    rc, out, err, _ = run([], {"UNCLOG_HANG_TIMEOUT": "-3s"})
    check("malformed env: exit 2 naming the variable", rc == 2 and "UNCLOG_HANG_TIMEOUT" in err, f"rc={rc} {err}")
    rc, out, err, _ = run([], {"UNCLOG_BACKEND": "bogus"})
    check("UNCLOG_BACKEND=bogus: exit 2 naming it", rc == 2 and "UNCLOG_BACKEND='bogus'" in err, f"rc={rc} {err}")
    rc, out, err, _ = run(["--unclog_bogus=1"])
    check("unknown --unclog_ flag: exit 2 naming it", rc == 2 and "--unclog_bogus" in err, f"rc={rc} {err}")
    rc, out, err, _ = run(["--help"])
    check("--help lists our flags", rc == 0 and "--unclog_resolution" in out and "--gtest_filter" in out, out)
    report = os.path.join(tmp, "r.jsonl")
    rc, out, err, _ = run(["--gtest_filter=Blocking.Usleep", f"--unclog_report={report}"])
    lines = open(report).read().splitlines() if os.path.exists(report) else []
    check("--unclog_report writes JSON lines", len(lines) == 1 and '"kind":"call"' in lines[0]
          and '"call":"usleep' in lines[0]
          and '"test":"Blocking.Usleep"' in lines[0], str(lines))
    rc, out, err, _ = run(["--unclog_report=/nonexistent/dir/r.jsonl"])
    check("unopenable report file: exit 2", rc == 2 and "/nonexistent/dir/r.jsonl" in err, f"rc={rc} {err}")

    # 3. A hang: XML written, exit non-zero, well before the timeout.
    xml = os.path.join(tmp, "hang.xml")
    folded = os.path.join(tmp, "hang.folded")
    hang_trace = os.path.join(tmp, "hang_trace.json")
    rc, out, err, elapsed = run(["--gtest_filter=Blocking.Clean:Hang.*", "--unclog_hang_timeout=1s",
                                 f"--gtest_output=xml:{xml}", f"--unclog_folded={folded}",
                                 f"--unclog_trace={hang_trace}"], timeout=30)
    try:
        hang_events = load_trace(hang_trace)
    except (OSError, ValueError) as e:
        hang_events = None
        print(e)
    check("hang: the trace is valid JSON with the finished test and the hang's report",
          hang_events is not None and any(e.get("name") == "Blocking.Clean" for e in hang_events)
          and any(e.get("name", "").startswith("blocking (") for e in hang_events), str(hang_events)[:2000])
    lines = open(folded).read().splitlines() if os.path.exists(folded) else []
    check("hang: the folded stacks are on disk, outermost first, weighted in us",
          len(lines) == 1 and re.match(r"^\S*;\S*read\S* \d+$", lines[0]) is not None
          and int(lines[0].rsplit(" ", 1)[1]) >= 900000, str(lines))
    check("hang: exit non-zero", rc != 0, f"rc={rc}")
    check("hang: ends soon after the 1 s timeout", elapsed < 8, f"{elapsed:.1f} s")
    check("hang: one line 'unclog: hang:' with the read", re.search(r"^unclog: hang:.*read", err, re.M) is not None, err)
    check("hang: the report points at the line", f"{FILE}:{MARK['hang']}" in err, err)
    ok = os.path.exists(xml)
    cases = testcases(xml) if ok else {}
    check("hang: XML names the hung test as failed with the report",
          any("hang" in m and f"{FILE}:{MARK['hang']}" in m for m in cases.get("Hang.ReadForever", [])), str(cases))
    check("hang: XML keeps the tests that finished", cases.get("Blocking.Clean") == [], str(cases))

# 4. Under a debugger, as CI scripts run tests to get a backtrace on a crash
# (gdb -batch -ex run -ex bt): gdb stops at every signal it does not know to
# pass, and in batch mode a stop ends the run. The run must go to its end:
# no sampling signal and no trapped call while a tracer is attached, each
# said once; stalls still fail their tests, at the test when no stack was
# sampled.
def run_under_gdb(args, timeout=120):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UNCLOG_", "GTEST_", "GITHUB_"))}
    p = subprocess.run(["gdb", "-q", "-batch", "-return-child-result", "-ex", "run", "-ex", "bt", "--args", EXE] + args,
                       capture_output=True, text=True, env=env, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


if not shutil.which("gdb"):
    check("gdb is installed (scripts/install-deps)", False)
else:
    rc, out = run_under_gdb(["--gtest_filter=Blocking.*"])
    if "ptrace: Operation not permitted" in out or "Could not trace the inferior" in out:
        print("skip: this machine does not let gdb trace a program:", out.strip().splitlines()[-1])
    else:
        check("gdb: the run goes to its end, exit status 1", rc == 1 and "4 tests from 1 test suite ran" in out
              and "received signal" not in out, f"rc={rc}\n{out}")
        check("gdb: a blocking call still fails at its line", f"{FILE}:{MARK['usleep']}" in out and "usleep" in out, out)
        check("gdb: a CPU stall fails at its test, kind cpu, without a stack",
              re.search(rf"{re.escape(FILE)}:{MARK['spin_test']}: Failure", out) is not None and "cpu" in out
              and "no stack from inside the step" in out, out)
        check("gdb: the clean tests pass",
              "[       OK ] Blocking.Clean " in out and "[       OK ] Blocking.CleanUnclogTest " in out, out)
        check("gdb: each notice once, and in the summary",
              out.count("unclog: a debugger or tracer is attached: stalls are reported without the stack") == 1
              and "unclog: watched less: a debugger or tracer is attached" in out, out)
        rc, out = run_under_gdb(["--gtest_filter=Hang.*", "--unclog_hang_timeout=1s"])
        check("gdb: a hang ends the run with its report, not a debugger stop",
              rc == 1 and re.search(r"^unclog: hang: .*Hang\.ReadForever", out, re.M) is not None
              and "received signal" not in out,
              f"rc={rc}\n{out}")

everything = "\n".join(OUTPUTS)
check(f"no frame of ours at the inner end of any of the {len(inner_ends(everything))} stacks printed",
      inner_ends(everything) and not ours_at_inner_end(everything), "\n".join(ours_at_inner_end(everything)))

print(f"{len(failures)} check(s) failed" if failures else "all checks passed")
sys.exit(1 if failures else 0)
