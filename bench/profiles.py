"""Summarise py-spy's collapsed stacks (``--format raw``, what ``--profile DIR`` writes):
the functions that take the most samples, inclusive (anywhere on the stack) and self (on top).

    .venv/bin/python -m bench.profiles DIR/serve.txt [--top 30] [--match ackbot-code-only-regex]
"""
from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

# Leaves that mean "waiting", which py-spy does not always recognise as idle: the event loop in
# epoll, and aiosqlite's connection threads waiting for their next statement.
_IDLE_LEAVES = (re.compile(r"^EpollSelector\.select \("), re.compile(r"^_connection_worker_thread \(.*aiosqlite/core\.py:59\)"))

# Code inside ``database.run`` runs in a greenlet: py-spy shows its stack from this frame.
_GREENLET_RUNNER = "greenlet_spawn.<locals>.runner"
_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")


def _short(frame: str) -> str:
    """``function (path/to/file.py:12)`` → ``function (file.py)``: lines merged per function."""
    found = _FRAME.match(frame)
    if not found:
        return frame
    path = found.group("file")
    for marker in ("site-packages/", "/lib/python3.11/", "/work/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{found.group('function')} ({path})"


def summarise(path: Path, top: int, match: str | None) -> str:
    inclusive: Counter = Counter()
    own: Counter = Counter()
    database_work: Counter = Counter()
    total = other_threads = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        raw = stack.split(";")
        if any(pattern.match(raw[-1]) for pattern in _IDLE_LEAVES):
            continue
        frames = [_short(frame) for frame in raw]
        if frames[0].startswith("Thread._bootstrap"):  # aiosqlite's connection threads, mostly in SQLite's C code
            other_threads += count
            continue
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
        runners = [index for index, frame in enumerate(frames) if frame.startswith(_GREENLET_RUNNER)]
        if runners and runners[0] + 1 < len(frames):
            database_work[frames[runners[0] + 1]] += count
    pattern = re.compile(match) if match else None
    lines = [f"{path.name}: {total} busy samples of the event-loop thread (waiting in epoll excluded); "
             f"{other_threads} more in other threads (aiosqlite: SQLite's C code, including its busy-wait sleeps)"]
    sections = (("inclusive", inclusive), ("self", own), ("function run by database.run (greenlet)", database_work))
    for title, counter in sections:
        lines.append(f"\n  top {top} by {title} share")
        shown = [(frame, count) for frame, count in counter.most_common() if not pattern or pattern.search(frame)]
        for frame, count in shown[:top]:
            lines.append(f"  {100 * count / max(total, 1):5.1f}%  {frame}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--match", help="only frames matching this regular expression")
    args = parser.parse_args()
    for path in args.files:
        print(summarise(path, args.top, args.match))


if __name__ == "__main__":
    main()
