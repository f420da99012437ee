"""What the health checks cost a poll: the time of a poll with the health cache cold (every
health read due) against a warm one (only the per-poll reads), on one server.

    PYTHONPATH=src .venv/bin/python benchmarks/health_cost.py URL [--polls 20]

Prints the median collect time of a snapshot in three states: health reads all due
(catalog and live), live reads only, none due (cached). Figures, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from dbtop.engines.base import ConnectOptions
from dbtop.engines.registry import create_engine


def _invalidate(engine: object, catalog: bool, live: bool) -> None:
    health = getattr(engine, "_health", None)
    for name, wanted in (
        ("_catalog", catalog),
        ("_live", live),
        ("_innodb", catalog or live),
        ("_oplog", catalog or live),
    ):
        every = getattr(health, name, None)
        if wanted and every is not None:
            every.invalidate()


async def main(url: str, polls: int) -> None:
    engine = create_engine(url, ConnectOptions())
    await engine.connect()
    try:
        await engine.snapshot()
        for label, catalog, live in (
            ("every health read due", True, True),
            ("live reads due (10 s cache)", False, True),
            ("cached (the common poll)", False, False),
        ):
            times = []
            for _ in range(polls):
                _invalidate(engine, catalog, live)
                started = time.perf_counter()
                await engine.snapshot()
                times.append((time.perf_counter() - started) * 1000)
            print(
                f"{label:32} median {statistics.median(times):7.2f} ms  "
                f"max {max(times):7.2f} ms  ({polls} polls)"
            )
    finally:
        await engine.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--polls", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(main(args.url, args.polls))
