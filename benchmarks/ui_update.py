"""How long one refresh takes to reach the screen with 5,000 sessions of which 200 change.

    .venv/bin/python benchmarks/ui_update.py [--sessions 5000] [--changing 200] [--rounds 60]

The app runs headless at 200x50 (all four panes on screen, the worst case) on synthetic
snapshots. Each round 200 sessions change (their time, state and query, so the sort order
moves too) while every Session object is rebuilt, as an engine does on each poll. Printed:

- poller: rates from the previous snapshot and the lock forest (``dbtop.poller``'s work);
- apply: the panes' diff by key and row updates (``MainScreen.apply_result``);
- render: Textual's next screen refresh (layout when needed, the changed regions rendered
  and handed to the driver);
- frame: apply + render, the work from a new snapshot to the screen (Textual's frame
  pacing, up to 1/60 s before its update timer fires, is not work and not counted).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import random
import statistics
import time
from datetime import UTC, datetime

from dbtop.analysis.lockgraph import build_lock_forest
from dbtop.analysis.rates import with_rates
from dbtop.model import (
    Capabilities,
    IndexStat,
    LockWait,
    ServerSummary,
    Session,
    Snapshot,
    Statement,
    TableStat,
)
from dbtop.poller import PollResult
from dbtop.ui.app import AppSettings, DbtopApp

STATES = ("active", "idle", "idle in transaction", "active", "idle")
QUERIES = (
    "SELECT * FROM orders WHERE customer_id = $1",
    "UPDATE accounts SET balance = balance - $1 WHERE id = $2",
    "INSERT INTO events (kind, payload) VALUES ($1, $2)",
    "SELECT count(*) FROM line_items WHERE order_id = ANY($1)",
)


def make_session(n: int, tick: int, rng: random.Random, changed: bool) -> Session:
    state = STATES[(n + (tick if changed else 0)) % len(STATES)]
    blocked = (str(100000 + n - 1),) if n % 500 == 1 else ()
    return Session(
        id=str(100000 + n),
        user=f"app{n % 7}",
        database="shop",
        application=f"web-{n % 40}",
        client=f"10.0.{n // 250}.{n % 250}:5{n % 10000:04d}",
        kind="client backend",
        state=state,
        is_idle=state == "idle",
        in_transaction=state != "idle",
        query=QUERIES[(n + tick) % len(QUERIES)] if changed else QUERIES[n % len(QUERIES)],
        duration_s=(rng.random() * 30) if changed else (n % 97) / 10,
        wait="Lock:transactionid" if blocked else None,
        waiting_on_lock=bool(blocked),
        blocked_by=blocked,
    )


@functools.cache
def _catalog() -> tuple[tuple[Statement, ...], tuple[IndexStat, ...], tuple[TableStat, ...]]:
    """Statements, indexes and tables: present (their panes are on screen) and unchanged
    from one refresh to the next, so the figures are those of the sessions' update."""
    statements = tuple(
        Statement(
            str(n),
            f"SELECT * FROM t{n} WHERE id = $1",
            calls=1000 + n,
            total_ms=10.0 + n,
            rows=1000,
        )
        for n in range(500)
    )
    indexes = tuple(
        IndexStat("public", f"t{n % 50}", f"t{n % 50}_idx{n}", scans=n, size_bytes=8192 * n)
        for n in range(200)
    )
    tables = tuple(
        TableStat(
            "public", f"t{n}", seq_scans=n, seq_rows_read=1000, index_scans=n, live_rows=10_000 * n
        )
        for n in range(50)
    )
    return statements, indexes, tables


def make_snapshot(sessions: int, changing: int, tick: int, rng: random.Random) -> Snapshot:
    moving = set(rng.sample(range(sessions), changing))
    rows = tuple(make_session(n, tick, rng, n in moving) for n in range(sessions))
    waits = tuple(
        LockWait(waiter=s.id, blocker=s.blocked_by[0], mode="ShareLock", lock_type="transactionid")
        for s in rows
        if s.blocked_by
    )
    statements, indexes, tables = _catalog()
    return Snapshot(
        engine="postgresql",
        taken_at=datetime.now(UTC),
        monotonic=float(tick),
        server=ServerSummary(
            "postgresql",
            "bench@localhost/shop",
            "PostgreSQL 18.1",
            connections=sessions,
            max_connections=sessions + 100,
            counters={"xact_commit": 1000.0 * tick},
            throughput_counter="xact_commit",
        ),
        capabilities=Capabilities(can_cancel=True, can_terminate=True, can_explain=True),
        sessions=rows,
        statements=statements,
        indexes=indexes,
        tables=tables,
        lock_waits=waits,
    )


class Quiet:
    """An engine that never connects: the benchmark feeds the screen by itself."""

    name = "postgresql"

    async def connect(self) -> None:
        await asyncio.Event().wait()

    async def close(self) -> None:
        return None


async def measure(args: argparse.Namespace) -> dict[str, list[float]]:
    rng = random.Random(7)
    snapshots = [
        make_snapshot(args.sessions, args.changing, t, rng) for t in range(args.rounds + 2)
    ]
    settings = AppSettings(interval_s=3600, show_idle=True)
    app = DbtopApp(Quiet, settings, handle_signals=False)  # type: ignore[arg-type]
    times: dict[str, list[float]] = {"poller": [], "apply": [], "render": [], "frame": []}
    async with app.run_test(size=(200, 50)) as pilot:
        screen = app.main_screen
        assert screen is not None
        renders: list[float] = []
        compositor_refresh = screen._compositor_refresh

        def timed_refresh() -> None:
            started = time.perf_counter()
            compositor_refresh()
            renders.append((time.perf_counter() - started) * 1000)

        # Textual renders the changed regions on its own update timer; time that render.
        screen._compositor_refresh = timed_refresh  # type: ignore[method-assign]
        previous = None
        for n, snapshot in enumerate(snapshots):
            started = time.perf_counter()
            current = with_rates(previous, snapshot)
            result = PollResult(current, build_lock_forest(current.lock_waits), 0.0)
            previous = current
            polled = time.perf_counter()
            screen.apply_result(result)
            applied = time.perf_counter()
            renders.clear()
            for _ in range(100):
                await pilot.pause()
                if renders:
                    break
            if n >= 2 and renders:  # the first two fill the tables from empty
                apply_ms = (applied - polled) * 1000
                times["poller"].append((polled - started) * 1000)
                times["apply"].append(apply_ms)
                times["render"].append(sum(renders))
                times["frame"].append(apply_ms + sum(renders))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=5000)
    parser.add_argument("--changing", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    times = asyncio.run(measure(args))
    print(
        f"{args.sessions} sessions, {args.changing} changing per refresh, {args.rounds} refreshes,"
        " 200x50, all four panes on screen, idle sessions shown"
    )
    for name, values in times.items():
        values.sort()
        p95 = values[int(len(values) * 0.95) - 1]
        print(
            f"  {name:>6}: median {statistics.median(values):6.2f} ms   p95 {p95:6.2f} ms"
            f"   max {values[-1]:6.2f} ms"
        )


if __name__ == "__main__":
    main()
