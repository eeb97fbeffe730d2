"""Turns py-spy's raw output (collapsed stacks) into a short Markdown summary per op.

Each raw line is `frame;frame;...;frame COUNT`, outermost first, a frame being
`function (file:line)`. The summary lists the functions with the most samples on top of
the stack (self), and the server's own functions with the most samples anywhere in the
stack (inclusive), per file and function, lines merged. Time inside grpc's Cython layer
shows as addresses in cygrpc's shared object.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>.*?)(?::\d+)?\)$")
# Leaf frames of a thread that waits rather than works (py-spy --native samples those
# too): dropped from the tables, and counted.
_WAITS = (
    "epoll_wait (",
    "epoll_pwait (",
    "poll (",
    "select (",
    "EpollSelector.select (",
    "pthread_cond_wait",
    "pthread_cond_timedwait",
    "sem_wait",
    "sem_timedwait",
    "syscall (libc",  # futex waits, in the Python runtime's and grpc's locks
    "__futex",
    "nanosleep (",
)


def _short(frame: str) -> str:
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    path = m.group("file")
    for marker in ("/site-packages/", "/modelyard_server/", "/lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            if marker == "/modelyard_server/":
                path = "modelyard_server/" + path
            break
    return f"{m.group('func')} ({path})"


def summarize_raw(path: Path, top: int = 20) -> str:
    self_counts: Counter[str] = Counter()
    incl_counts: Counter[str] = Counter()
    total = waiting = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(f) for f in stack.split(";") if f and not f.startswith("process ")]
        if not frames:
            continue
        if frames[-1].startswith(_WAITS):
            waiting += count
            continue
        total += count
        self_counts[frames[-1]] += count
        for frame in set(frames):
            incl_counts[frame] += count
    if total == 0:
        return f"### {path.stem}\n\nno samples\n"
    out = [
        f"### {path.stem}",
        "",
        f"{total:,} samples of the server's threads at work (py-spy --native, 200/s; "
        f"{waiting:,} more samples of threads waiting in epoll, locks or sleep left out)",
    ]
    ours = Counter({f: c for f, c in incl_counts.items() if "modelyard_server/" in f})
    for title, counts in (("self", self_counts), ("inclusive, modelyard_server only", ours)):
        out += ["", f"| {title} % | function (file) |", "|---:|---|"]
        for frame, count in counts.most_common(top):
            out.append(f"| {100 * count / total:.1f} | `{frame}` |")
    return "\n".join(out) + "\n"


def write_summary(raw_dir: Path, out: Path) -> None:
    sections = [summarize_raw(p) for p in sorted(raw_dir.glob("*.txt"))]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        "# Where modelyard-server spends its time, per benchmark op\n\n"
        "Written by `make -C bench profile` (py-spy attached to the server for each "
        "measurement). Sampling slows the server; read shares, not speeds.\n\n"
        + "\n".join(sections)
    )
