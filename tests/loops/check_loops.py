#!/usr/bin/env python3
"""Runs the loop suites (libuv, libevent, GLib, Qt on both dispatchers,
hand-written epoll loops) under our gtest main and checks each test's
outcome in the XML: a blocking callback fails its test exactly once, at the
callback's line, naming the loop, with a hint in the loop's idiom; clean
loops (idle waits of 150 ms) and the code after a loop pass."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from report_stacks import inner_ends, ours_at_inner_end  # noqa: E402

EXE, SOURCES = sys.argv[1], sys.argv[2:]
failures = []
OUTPUTS = []  # every run's console, for the stack check at the end

# Test suite -> (source file, loop name in reports, a pattern its hints match).
LOOPS = {
    "Libuv": ("uv_suite.cpp", "libuv loop", "uv_"),
    "GLib": ("glib_suite.cpp", "GLib loop", "g_"),
    "Libevent": ("event_suite.cpp", "libevent loop", "ev"),
    "Qt": ("qt_suite.cpp", "Qt loop", "Q"),
    "EpollLoopWait": ("epoll_suite.cpp", "epoll loop", "loop"),
    "EpollNamed": ("epoll_suite.cpp", "event loop", "loop"),
    "Asio": ("asio_suite.cpp", "asio loop", "asio|async_"),
    "AsioPool": ("asio_suite.cpp", "asio loop", "asio|async_"),
    "AsioWrite": ("asio_suite.cpp", "asio loop", "asio|async_"),
}
# Test name -> (marker of the blocking line, what the report says), or None: passes.
CASES = {
    "Sleep": ("SLEEP", "usleep"), "Spin": ("SPIN", "cpu"), "Call": ("CALL", "pipe, blocking"),
    "SleepInExpect": ("SLEEP", "usleep"), "SpinInExpect": ("SPIN", "cpu"), "CallInExpect": ("CALL", "pipe, blocking"),
    "SleepThenExit": ("SLEEP", "usleep"), "SleepOnThread": ("SLEEP", "usleep"),
    "SleepThenExitOnThread": ("SLEEP", "usleep"),
    "Clean": None, "CleanInExpect": None, "AfterTheLoopIsNotTheLoops": None, "Dispatcher": None,
    # Before the first wait, in runs that never wait, in idle callbacks.
    "FirstPassSleep": ("FIRST", "usleep"), "NoWaitSpin": ("NOWAIT", "cpu"), "IdleCall": ("IDLE", "pipe, blocking"),
    "FirstPassClean": None, "NoWaitClean": None,
    "EchoServerOnFourThreadsIsQuiet": None, "BlockingWriteBeforeTheFirstWait": ("WRITE", "blocking"),
}


def markers():
    out = {}
    for path in SOURCES:
        with open(path) as f:
            for i, line in enumerate(f, 1):
                m = re.search(r"// (SLEEP|SPIN|CALL|FIRST|NOWAIT|IDLE|WRITE)$", line.rstrip())
                if m:
                    out[(os.path.basename(path), m.group(1))] = i
    return out


MARKS = markers()


def check(name, cond, detail=""):
    print(f"{'ok' if cond else 'FAIL':4} {name}")
    if not cond:
        failures.append(name)
        if detail:
            print("     " + detail.replace("\n", "\n     ")[:3000])


def run(env_extra, args):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UNCLOG_", "GTEST_", "QT_"))}
    env.update(env_extra)
    with tempfile.TemporaryDirectory() as d:
        xml = os.path.join(d, "out.xml")
        p = subprocess.run([EXE, f"--gtest_output=xml:{xml}"] + args, capture_output=True, text=True, env=env,
                           timeout=300)
        OUTPUTS.append(p.stdout + p.stderr)
        try:
            root = ET.parse(xml).getroot()
        except (OSError, ET.ParseError) as e:
            check(f"{args}: XML written", False, f"{e}\nrc={p.returncode}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
            return None, p
    return root, p


def printed_for(out, test):
    """What the run printed for one test, and its closing summary: the detail of a
    report that went missing (said elsewhere, counted as the library's, or not at all)."""
    start = out.find(f"[ RUN      ] {test}\n")
    if start < 0:
        return out[-1500:]
    end = out.find("[ RUN      ]", start + 1)
    return out[start:end if end > 0 else None][:1500] + "\n...\n" + out[-800:]


def judge(root, label, out=""):
    seen = 0
    for case in root.iter("testcase"):
        suite, name = case.get("classname"), case.get("name")
        if name.startswith("DISABLED_"):
            continue
        if suite not in LOOPS or name not in CASES:
            check(f"{label} {suite}.{name}: known to the checker", False)
            continue
        seen += 1
        source, loop, hint_word = LOOPS[suite]
        texts = [f.get("message", "") for f in case.iter("failure")]
        want = CASES[name]
        test = f"{label} {suite}.{name}"
        if want is None:
            check(f"{test}: passes", not texts, "\n---\n".join(texts))
            continue
        marker, says = want
        line = MARKS.get((source, marker))
        blocking = [t for t in texts if "blocking:" in t]
        check(f"{test}: fails once, for blocking", len(texts) == 1 and len(blocking) == 1,
              "\n---\n".join(texts) or printed_for(out, f"{suite}.{name}"))
        if not blocking:
            continue
        t = blocking[0]
        check(f"{test}: at the callback's line {source}:{line}", f"{source}:{line}" in t, t)
        check(f"{test}: says {says}", says in t, t)
        if "InExpect" not in name:
            check(f"{test}: names the {loop}", loop in t, t)
            hint = re.search(r"hint: (.*)", t)
            check(f"{test}: hint in the loop's idiom", hint is not None and re.search(hint_word, hint.group(1))
                  and "hub" not in hint.group(1) and "fiber" not in hint.group(1), t)
    return seen


root, p = run({"UNCLOG_LOOP_FUNCTIONS": "named_epoll_loop"}, [])
if root is not None:
    n = judge(root, "glib-dispatcher run:", p.stdout)
    check(f"every test ran ({n})", n >= 79, p.stdout[-2000:])
    check("the run fails (blocking tests)", p.returncode == 1, f"rc={p.returncode}")
root, p = run({"QT_NO_GLIB": "1"}, ["--gtest_filter=Qt.*"])
if root is not None:
    n = judge(root, "QT_NO_GLIB run:", p.stdout)
    check(f"every Qt test ran ({n})", n == 14, p.stdout[-2000:])

# Time mode sees a first-pass Asio handler's blocking write as call mode does.
root, p = run({}, ["--unclog_mode=time", "--gtest_filter=AsioWrite.*"])
if root is not None:
    check("time mode: the Asio write test ran", judge(root, "time mode:", p.stdout) == 1, p.stdout[-2000:])

# An Asio echo server on a pool of four threads with 200 clients: Asio's own
# scheduler and reactor locks are contended all along, and are not the
# test's. Every run passes and says nothing but the summary.
pool_runs = 20
quiet = 0
noisy = []
for i in range(pool_runs):
    root, p = run({}, ["--gtest_filter=AsioPool.EchoServerOnFourThreadsIsQuiet"])
    if root is None:
        continue
    cases = [c for c in root.iter("testcase") if c.get("classname") == "AsioPool"]
    texts = [f.get("message", "") for c in cases for f in c.iter("failure")]
    said = [ln for ln in (p.stdout + p.stderr).splitlines()
            if ln.startswith("unclog:") and not ln.startswith("unclog: no blocking reports")]
    if len(cases) == 1 and not texts and not said and p.returncode == 0:
        quiet += 1
    else:
        noisy.append(f"run {i}: rc={p.returncode}\n" + "\n".join(texts + said)[:1500])
check(f"Asio pool server: {quiet} of {pool_runs} runs pass with nothing said", quiet == pool_runs, "\n".join(noisy))

# The timeline: a loop's steps on a track of their own, the blocking one
# with its report.
with tempfile.TemporaryDirectory() as d:
    trace = os.path.join(d, "trace.json")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UNCLOG_", "GTEST_", "QT_"))}
    subprocess.run([EXE, "--gtest_filter=Libuv.Sleep", f"--unclog_trace={trace}"], capture_output=True, env=env,
                   timeout=120)
    try:
        with open(trace) as f:
            events = json.load(f)["traceEvents"]
    except (OSError, ValueError) as e:
        events = []
        check("trace: written", False, str(e))
    tracks = {e.get("tid"): e["args"]["name"] for e in events if e.get("ph") == "M" and "name" in e.get("args", {})}
    loop_tids = [t for t, n in tracks.items() if n.startswith("libuv loop")]
    steps = [e for e in events if e.get("ph") == "X" and e.get("tid") in loop_tids and "uv_run" in e.get("name", "")]
    check("trace: a libuv loop track with its steps", loop_tids and steps, json.dumps(tracks))
    check("trace: the 80 ms step", any(e["dur"] >= 70000 for e in steps), json.dumps(steps)[:2000])
    reports = [e for e in events if e.get("ph") == "X" and e.get("name", "").startswith("blocking")]
    check("trace: the report on the loop's track", any(r.get("tid") in loop_tids for r in reports),
          json.dumps(reports)[:2000])

# Under valgrind's memcheck, as a user's CI runs tests: no memcheck error
# (checking whether a loop has returned reads a word that may be dead stack),
# and the blocking callback still fails its test. One run: valgrind's
# translation of cold code can make the 10 ms work timer due before libuv's
# first wait, and that first pass is watched too (loops/entry_hooks.cpp).
if shutil.which("valgrind") and os.environ.get("LOOPS_SANITIZE", "none") == "none":
    with tempfile.TemporaryDirectory() as d:
        xml = os.path.join(d, "vg.xml")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("UNCLOG_", "GTEST_", "QT_"))}
        p = subprocess.run(["valgrind", "-q", "--error-exitcode=9", EXE, f"--gtest_output=xml:{xml}",
                            "--gtest_filter=Libuv.Sleep:Libuv.Clean:Libuv.AfterTheLoopIsNotTheLoops:Libuv.SleepThenExit"],
                           capture_output=True, text=True, env=env, timeout=600)
        out = p.stdout + p.stderr
        check("memcheck: no errors, the run fails for its blocking tests only", p.returncode == 1,
              f"rc={p.returncode}\n{out[-3000:]}")
        try:
            cases = {c.get("name"): [f.get("message", "") for f in c.iter("failure")]
                     for c in ET.parse(xml).getroot().iter("testcase")}
        except (OSError, ET.ParseError) as e:
            cases = {}
            check("memcheck: XML written", False, f"{e}\n{out[-3000:]}")
        for name in ("Sleep", "SleepThenExit"):
            check(f"memcheck: Libuv.{name} fails for blocking", any("blocking:" in m for m in cases.get(name, [])),
                  str(cases.get(name)))
        for name in ("Clean", "AfterTheLoopIsNotTheLoops"):
            check(f"memcheck: Libuv.{name} passes", cases.get(name) == [], str(cases.get(name)))

everything = "\n".join(OUTPUTS)
check(f"no frame of ours at the inner end of any of the {len(inner_ends(everything))} stacks printed",
      inner_ends(everything) and not ours_at_inner_end(everything), "\n".join(ours_at_inner_end(everything)))

print(f"{len(failures)} failed" if failures else "all loop checks passed")
sys.exit(1 if failures else 0)
