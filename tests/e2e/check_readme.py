#!/usr/bin/env python3
"""The README's example reports are what the demos print: runs each demo and
checks that every report block the README shows under it appears in the
demo's output, modulo what changes from run to run (numbers, addresses,
fiber and thread numbers, a CPU wait the machine added). A README that
drifts from the program fails here.

The summary lines the README quotes must be printed by one of the demos.

usage: check_readme.py README.md DEMO [DEMO...]"""
import re
import subprocess
import sys


def normalize(line):
    line = re.sub(r", waited for a CPU [0-9.]+ ms", "", line)
    line = re.sub(r"0x[0-9a-f]+", "ADDR", line)
    line = re.sub(r"[0-9]+(\.[0-9]+)?", "N", line)
    # A call that also held the loop past the resolution (an fsync on a slow
    # disk) says so; the README shows the call alone.
    line = re.sub(r"; it held the \w+ for N ms \(resolution N ms\)(, [a-zA-Z -]+ N ms)*", "", line)
    # The summary's worst report may be the helper's call or the same step's
    # time stall, from run to run.
    line = re.sub(r"worst N ms (call|blocked|cpu|preempted) in", "worst N ms KIND in", line)
    return line.rstrip()


def readme_blocks(readme, demo):
    """The ``` block starting with 'blocking:' that follows the README's
    mention of the demo's command (build/samples/.../NAME) before the next
    heading; none if a heading comes first (a demo quoted for its summary
    line only)."""
    text = open(readme).read()
    name = demo.rsplit("/", 1)[-1]
    m = re.search(r"build/samples/\w+/" + re.escape(name) + r"\b", text)
    if not m:
        raise SystemExit(f"README.md never mentions build/samples/.../{name}")
    rest = text[m.end():]
    heading = re.search(r"^#+ ", rest, re.M)
    block = re.search(r"```\n(blocking:.*?)```", rest, re.S)
    if not block or (heading and heading.start() < block.start()):
        return []
    return [[l for l in block.group(1).splitlines() if l.strip()]]


def reports(output):
    out, cur = [], None
    for line in output.splitlines():
        if line.startswith("blocking:"):
            cur = [line]
            out.append(cur)
        elif cur is not None and line.startswith("  "):
            cur.append(line)
        else:
            cur = None
    return out


def matches(block, report):
    """The report begins with the block's lines, where a line "..." in the
    block stands for any number of the report's."""
    shown = [normalize(l) for l in block]
    got = [normalize(l) for l in report]

    def match(i, j):
        if i == len(shown):
            return True
        if shown[i].strip() == "...":
            return any(match(i + 1, k) for k in range(j, len(got) + 1))
        return j < len(got) and shown[i] == got[j] and match(i + 1, j + 1)
    return match(0, 0)


def summary_lines(readme):
    """The summary lines the README quotes (`unclog: N blocking reports ...`)."""
    return re.findall(r"`(unclog: \d+ blocking reports? in [^`]*)`", open(readme).read())


def main():
    readme, demos = sys.argv[1], sys.argv[2:]
    failed = False
    printed = []
    for demo in demos:
        r = subprocess.run([demo], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
        printed += [normalize(l) for l in r.stdout.splitlines()]
        got = reports(r.stdout)
        for block in readme_blocks(readme, demo):
            if any(matches(block, rep) for rep in got):
                print(f"{demo}: the README's block is in its output")
                continue
            failed = True
            print(f"{demo}: the README shows\n  " + "\n  ".join(block))
            print("but the demo printed these reports:\n" + "\n".join("\n".join(rep) for rep in got))
    for line in summary_lines(readme):
        if normalize(line) in printed:
            print(f"the README's summary line is printed: {line}")
        else:
            failed = True
            print(f"the README quotes `{line}`, which no demo printed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
