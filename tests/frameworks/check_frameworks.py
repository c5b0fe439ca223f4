#!/usr/bin/env python3
"""Runs a Catch2 or doctest suite built on unclog's main (catch2_suite.cpp,
doctest_suite.cpp) and checks, from its JUnit file and its console output,
that each blocking test case fails exactly once, at the marked line, for
the expected reason; that clean ones pass; and that a hang ends the run
with the JUnit file naming the hung test case."""
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from report_stacks import OURS, inner_ends  # noqa: E402

EXE, SOURCES = sys.argv[1], sys.argv[2:]
# The framework, from the suite's source (the binary may have any name).
FRAMEWORK = "catch2" if any(os.path.basename(s).startswith("catch2") for s in SOURCES) else "doctest"
failures = []

# Test case -> (marker of the line the report points at, what it says), or None: passes.
CASES = {
    "clean statement": None,
    "sleep in a statement": ("SLEEP", "usleep"),
    "cpu in a statement": ("SPIN", "cpu"),
    "blocking read in a test case body": ("CALL", "pipe, blocking"),
    "a libuv callback blocks": ("UV", "libuv loop"),
    "expected to block": None,
    "watched body with sections": ("BODY", "usleep"),
    "expected to block, did not": ("NOBLOCK", "Actual: no step blocked"),
}


def markers():
    out = {}
    for path in SOURCES:
        with open(path) as f:
            for i, line in enumerate(f, 1):
                m = re.search(r"// ([A-Z]+)$", line.rstrip())
                if m:
                    out[m.group(1)] = f"{os.path.basename(path)}:{i}"
    return out


MARKS = markers()


def check(name, cond, detail=""):
    print(f"{'ok' if cond else 'FAIL':4} {FRAMEWORK}: {name}")
    if not cond:
        failures.append(name)
        if detail:
            print("     " + str(detail).replace("\n", "\n     ")[:4000])


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UNCLOG_", "GTEST_"))}
    env.update(extra or {})
    return env


def junit_args(path):
    return ["-r", "junit", "-o", path] if FRAMEWORK == "catch2" else ["--reporters=junit", f"--out={path}"]


def without_hang():
    return ["~[hang]"] if FRAMEWORK == "catch2" else ["--test-case-exclude=hang"]


def only_hang():
    return ["[hang]"] if FRAMEWORK == "catch2" else ["--test-case=hang"]


def run(args, env=None, timeout=120):
    return subprocess.run([EXE] + args, capture_output=True, text=True, env=clean_env(env), timeout=timeout)


def inner_functions(report):
    ends = inner_ends(report)
    return ends[0] if ends else None


def junit_cases(path):
    """name -> failure texts; a Catch2 section's run "case/section" counts for its case."""
    cases = {}
    for tc in ET.parse(path).getroot().iter("testcase"):
        name = tc.get("name", "").split("/")[0]
        texts = cases.setdefault(name, [])
        for tag in ("failure", "error"):
            for f in tc.iter(tag):
                texts.append((f.get("message") or "") + "\n" + (f.text or ""))
    return cases


with tempfile.TemporaryDirectory() as d:
    # The JUnit reporter: verdicts and places, case by case.
    xml = os.path.join(d, "junit.xml")
    p = run(without_hang() + junit_args(xml))
    check("the run fails (blocking test cases)", p.returncode != 0, f"rc={p.returncode}\n{p.stdout[-2000:]}")
    try:
        cases = junit_cases(xml)
    except (OSError, ET.ParseError) as e:
        cases = {}
        check("JUnit file written", False, f"{e}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    for name, want in CASES.items():
        texts = cases.get(name)
        if texts is None:
            check(f"{name}: in the JUnit file", False, sorted(cases))
            continue
        if want is None:
            check(f"{name}: passes", not texts, "\n---\n".join(texts))
            continue
        marker, says = want
        where = MARKS[marker]
        blocking = [t for t in texts if "blocking:" in t or says in t]
        check(f"{name}: fails once, for blocking", len(texts) == 1 and len(blocking) == 1, "\n---\n".join(texts))
        if blocking:
            check(f"{name}: at its line {where}", where in blocking[0], blocking[0])
            check(f"{name}: says {says}", says in blocking[0], blocking[0])
            # The stack's inner end is the call the user's code made, never
            # our sampler, call window or interposed wrapper.
            inner = inner_functions(blocking[0])
            if inner is not None:
                check(f"{name}: no frame of ours at the stack's inner end", not OURS.search(inner), inner)

    # The console reporter: the same reports where a person reads them, and
    # the summary line after the framework's own.
    p = run(without_hang())
    out = p.stdout + p.stderr
    for name, want in CASES.items():
        if want:
            check(f"console: the report for '{name}' points at {MARKS[want[0]]}", MARKS[want[0]] in out, out[-3000:])
    check("console: REQUIRE_NO_BLOCKING ends the test case", "went on after it failed" not in out, out[-3000:])
    check("console: unclog's summary line", re.search(r"unclog: \d+ blocking reports? in \d+ tests?", out), out[-1500:])

    # A hang ends the run, naming the hung test case in the JUnit file.
    xml = os.path.join(d, "hang.xml")
    p = run(only_hang() + junit_args(xml) + ["--unclog_hang_timeout=1s"], timeout=60)
    check("hang: the run fails", p.returncode != 0, f"rc={p.returncode}")
    check("hang: says which test case hung", 'test case "hang" hung' in p.stdout, p.stdout[-2000:])
    try:
        hung = junit_cases(xml).get("hang", [])
    except (OSError, ET.ParseError) as e:
        hung = []
        check("hang: JUnit file written", False, str(e))
    check("hang: the JUnit file fails the hung test case at its line",
          any("hang" in t and MARKS["HANG"] in t for t in hung), "\n".join(hung)[:3000])
    inner = inner_functions("\n".join(hung))
    check("hang: no frame of ours at the stack's inner end", inner is not None and not OURS.search(inner),
          inner if inner is not None else "\n".join(hung)[:3000])

    # A bad flag is refused by name, before the framework's parser sees it.
    p = run(["--unclog_resolution=fast"])
    check("a malformed flag: exit 2 and the flag named", p.returncode == 2 and "--unclog_resolution" in p.stderr,
          f"rc={p.returncode} {p.stderr}")

print(f"{len(failures)} failed" if failures else f"all {FRAMEWORK} checks passed")
sys.exit(1 if failures else 0)
