"""TPS at a 0.5 s refresh under a steady load (PostgreSQL flushes its statistics about once
a second): no poll shows 0 and the next double; the window the rate is over is stated."""

from __future__ import annotations

import asyncio
import threading
import time
from itertools import pairwise

import asyncpg

from dbtop.engines.base import ConnectOptions
from dbtop.engines.postgresql import PostgresEngine
from dbtop.poller import Poller, PollResult
from tests.waiting import wait_until


def _steady_load(url: str, stop: threading.Event, commits: list[float]) -> None:
    """In its own thread and loop, so the poller's work cannot pace it; ``commits`` gets the
    monotonic time of each committed transaction (the truth the rates are checked against:
    on a shared machine the load's own pace varies)."""

    async def load() -> None:
        conn = await asyncpg.connect(url)
        try:
            while not stop.is_set():
                # one committed transaction each; it reads a table, as an application
                # does (a backend that touches no relation leaves its commit counts
                # pending until it does: pg_stat_database would show it idle)
                await conn.execute("SELECT relname FROM pg_class LIMIT 1")
                commits.append(time.monotonic())
                time.sleep(0.004)  # paces the load (~150-200 TPS), not a wait
        finally:
            await conn.close()

    asyncio.run(load())


async def test_tps_at_half_a_second_does_not_alternate_zero_and_double(pg15_url: str) -> None:
    stop = threading.Event()
    commits: list[float] = []
    load = threading.Thread(target=_steady_load, args=(pg15_url, stop, commits))
    load.start()
    results: list[PollResult] = []
    poller = Poller(
        lambda: PostgresEngine(pg15_url, ConnectOptions()),
        interval_s=0.5,
        on_result=results.append,
        on_status=lambda status: None,
    )
    task = asyncio.create_task(poller.run())
    try:
        await wait_until(
            lambda: sum(r.snapshot.rates is not None for r in results) >= 8,
            timeout=25,
            what="eight polls with rates at 0.5 s",
        )
    finally:
        await poller.stop()
        await task
        stop.set()
        load.join()
    rated = [(r.snapshot.monotonic, r.snapshot.rates) for r in results if r.snapshot.rates]
    assert all(rates.interval_s >= 3.0 for _, rates in rated)
    # Each rate against the load's own commits over the same window: PostgreSQL publishes a
    # backend's counts up to a second late, so within a factor of two; a rate differenced
    # below the flush period is 0 or double (the defect).
    for at, rates in rated:
        window = rates.interval_s
        true_tps = sum(at - window < t <= at for t in commits) / window
        shown = rates.server["transactions"]
        assert true_tps / 2 <= shown <= true_tps * 2, (shown, true_tps, window)
    # The polls themselves came every ~0.5 s: the window, not the refresh, grew.
    gaps = [b.snapshot.monotonic - a.snapshot.monotonic for a, b in pairwise(results)]
    assert min(gaps) < 1.0
