"""How soon ``dbtop URL`` shows its first frame, and its first data, in a real terminal.

    .venv/bin/python benchmarks/ui_startup.py [URL] [--runs 7]

URL defaults to $DBTOP_BENCH_PG_URL or postgresql://postgres@127.0.0.1:5432/postgres.
Each run starts ``python -m dbtop.cli URL`` in a pty (200x50) and times, from the spawn:
the first frame (the header is on screen, before the connection is up) and the first
snapshot on screen (the header says "live").
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

from _terminal import Terminal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "url",
        nargs="?",
        default=os.environ.get(
            "DBTOP_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    frames: list[float] = []
    data: list[float] = []
    for _ in range(args.runs):
        term = Terminal([sys.executable, "-m", "dbtop.cli", args.url])
        try:
            first = term.read_until(b"dbtop ")
            live = term.read_until(b"live")
        finally:
            term.close()
        if first is None or live is None:
            tail = term.output[-500:].decode("utf-8", "replace")
            raise SystemExit(f"dbtop did not draw (output ends with {tail!r})")
        frames.append(first)
        data.append(live)
    print(f"dbtop {args.url.split('@')[-1]}, {args.runs} runs, pty 200x50")
    print(
        f"  first frame:    median {statistics.median(frames) * 1000:6.0f} ms   "
        f"max {max(frames) * 1000:6.0f} ms"
    )
    print(
        f"  first snapshot: median {statistics.median(data) * 1000:6.0f} ms   "
        f"max {max(data) * 1000:6.0f} ms"
    )


if __name__ == "__main__":
    main()
