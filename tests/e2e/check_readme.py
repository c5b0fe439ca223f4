#!/usr/bin/env python3
"""The README's example reports are what the demos print: runs each demo and
checks that every report block the README shows under it appears in the
demo's output, modulo what changes from run to run (numbers, addresses,
fiber and thread numbers, a CPU wait the machine added). A README that
drifts from the program fails here.

usage: check_readme.py README.md DEMO [DEMO...]"""
import re
import subprocess
import sys


def normalize(line):
    line = re.sub(r", waited for a CPU [0-9.]+ ms", "", line)
    line = re.sub(r"0x[0-9a-f]+", "ADDR", line)
    line = re.sub(r"[0-9]+(\.[0-9]+)?", "N", line)
    return line.rstrip()


def readme_blocks(readme, demo):
    """The ``` blocks starting with 'blocking:' that follow the README's
    mention of the demo's command."""
    text = open(readme).read()
    name = demo.rsplit("/", 1)[-1]
    at = text.find(name)
    if at < 0:
        raise SystemExit(f"README.md never mentions {name}")
    blocks = []
    for m in re.finditer(r"```\n(blocking:.*?)```", text[at:], re.S):
        blocks.append([l for l in m.group(1).splitlines() if l.strip()])
        break  # the first report block after the command
    return blocks


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
    shown = [normalize(l) for l in block if l.strip() != "..."]
    got = [normalize(l) for l in report]
    return got[:len(shown)] == shown


def main():
    readme, demos = sys.argv[1], sys.argv[2:]
    failed = False
    for demo in demos:
        r = subprocess.run([demo], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
        got = reports(r.stdout)
        for block in readme_blocks(readme, demo):
            if any(matches(block, rep) for rep in got):
                print(f"{demo}: the README's block is in its output")
                continue
            failed = True
            print(f"{demo}: the README shows\n  " + "\n  ".join(block))
            print("but the demo printed these reports:\n" + "\n".join("\n".join(rep) for rep in got))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
