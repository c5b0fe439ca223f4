#!/usr/bin/env python3
"""In a -Db_sanitize=thread build: the e2e suite's stall tests, its hang
(built on the watchdog thread), watch_test's stall tests and an Asio pool
whose four threads first meet unclog's lazily made state together run to
their ends with no ThreadSanitizer warning. Their own verdicts are not judged
here: under TSan no thread is sampled (ARCHITECTURE: ThreadSanitizer), so
some stack assertions fail by design.

usage: check_tsan_quiet.py BLOCKING_SUITE WATCH_TEST TSAN_POOL"""
import os
import subprocess
import sys

SUITE, WATCH, POOL = sys.argv[1], sys.argv[2], sys.argv[3]
RUNS = [
    ("e2e stalls", [SUITE, "--gtest_filter=-Hang.*"]),
    ("e2e hang", [SUITE, "--gtest_filter=Hang.*", "--unclog_hang_timeout=1s"]),
    ("watch_test", [WATCH]),
    ("asio pool", [POOL]),
]
env = {k: v for k, v in os.environ.items() if not k.startswith(("UNCLOG_", "GTEST_"))}
env["TSAN_OPTIONS"] = "halt_on_error=0"
failed = 0
for name, cmd in RUNS:
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    out = p.stdout + p.stderr
    warnings = out.count("WARNING: ThreadSanitizer")
    ran = "[==========]" in out or "(hang)" in out
    ok = warnings == 0 and ran
    print(f"{'ok' if ok else 'FAIL'} {name}: {warnings} ThreadSanitizer warnings, rc={p.returncode}")
    if not ok:
        failed += 1
        i = out.find("WARNING: ThreadSanitizer")
        print(out[max(0, i):i + 4000] if i >= 0 else out[-3000:])
sys.exit(1 if failed else 0)
