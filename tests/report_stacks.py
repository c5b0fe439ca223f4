"""Reading the reports in a program's output, for the checkers: every
report's stack must begin, at its inner end, with the call the user's code
made (a libc function, a system call, the user's own frame), never with a
frame of unclog's (the sampler, a call window, an interposed wrapper seen
by its real_call, the trap handler)."""
import re

# Frames of ours, as symbolize.cpp names them; libunclog's interposed libc
# functions are named like libc's and are the user's call, so they count
# only behind one of these.
OURS = re.compile(r"\bunclog::|\bunclog_|\breal_call\b|\bCallWindow\b|\bon_sample\b|\bon_sigsys\b|"
                  r"\broom_to_unwind\b|\btake_requested_sample\b|\bloop_entry_hook")


def inner_ends(text):
    """The first stack line of every report in `text` ("#0-#2 a < b < c" or
    "#0 f at file:line"), functions only: the file may say anything."""
    ends = []
    for m in re.finditer(r"^\s*#0(?:-#\d+)? (.*)$", text, re.M):
        ends.append(m.group(1).split(" at ")[0])
    return ends


def ours_at_inner_end(text):
    """The first stack lines in `text` that begin with a frame of ours."""
    return [e for e in inner_ends(text) if OURS.search(e)]
