"""What QPS dbtop shows for an idle MariaDB it polls (issue 12: its own traffic).

    PYTHONPATH=src .venv/bin/python benchmarks/mysql_own.py [--polls 10] [--interval 1]

Starts a private MariaDB (performance_schema on, free port, tmp dir; nobody else talks to
it), then:

- reads Questions twice ``--polls × --interval`` seconds apart with a plain client, as
  ``mysqladmin extended-status`` would, while dbtop is not polling: the server's own QPS;
- takes ``--polls`` snapshots ``--interval`` seconds apart with the MySQL engine and reports
  the QPS its header shows (analysis.rates between consecutive snapshots), the Com_select /s
  and Created_tmp_tables /s, what the server counted in Questions meanwhile, and how many of
  the Slow queries rows are statements on performance_schema / information_schema.

Run it on two trees (``PYTHONPATH=/tmp/before/src``) for before/after figures.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.integration.mysql.servers import start_private  # noqa: E402


def questions(server) -> float:
    conn = server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW GLOBAL STATUS LIKE 'Questions'")
            return float(cur.fetchone()[1])
    finally:
        conn.close()


async def polled(url: str, polls: int, interval: float) -> tuple[list[dict[str, float]], int]:
    from dbtop.analysis.rates import compute_rates
    from dbtop.engines.base import ConnectOptions
    from dbtop.engines.mysql import MySQLEngine

    engine = MySQLEngine(url, ConnectOptions())
    await engine.connect()
    figures: list[dict[str, float]] = []
    try:
        previous = await engine.snapshot()
        for _ in range(polls):
            await asyncio.sleep(interval)  # the refresh interval being measured
            current = await engine.snapshot()
            rates = compute_rates(previous, current)
            if rates is not None:
                figures.append(dict(rates.server))
            previous = current
        monitoring = sum(
            1
            for s in current.statements
            if "performance_schema" in s.query.lower() or "information_schema" in s.query.lower()
        )
    finally:
        await engine.close()
    return figures, monitoring


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=10)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()
    server = start_private(["--performance-schema=ON"], label="own-bench")
    try:
        span = args.polls * args.interval
        before = questions(server)
        time.sleep(span)  # the server left alone: what an idle server does
        idle_qps = (questions(server) - before) / span
        before = questions(server)
        started = time.monotonic()
        figures, monitoring = asyncio.run(polled(server.url("mysql"), args.polls, args.interval))
        counted_qps = (questions(server) - before) / (time.monotonic() - started)
    finally:
        server.stop()

    def median(name: str) -> float:
        return statistics.median(f.get(name, 0.0) for f in figures)

    print(f"idle server, plain client only (mysqladmin-like): {idle_qps:.1f} QPS")
    print(f"server's Questions/s while dbtop polled:        {counted_qps:.1f}")
    print(
        f"dbtop header QPS (median of {len(figures)} polls): {median('Questions'):.1f}  "
        f"max {max(f.get('Questions', 0.0) for f in figures):.1f}"
    )
    print(
        f"dbtop Com_select/s {median('Com_select'):.1f}, "
        f"Created_tmp_tables/s {median('Created_tmp_tables'):.1f}"
    )
    print(f"Slow queries rows on performance_schema/information_schema: {monitoring}")


if __name__ == "__main__":
    main()
