"""Time of one full PostgreSQL snapshot at 100, 1,000 and 2,000 open connections.

    .venv/bin/python benchmarks/pg_snapshot.py [--url URL] [--sizes 100,1000,2000]
        [--active 200] [--rounds 20]

For each size it opens that many client connections (``--active`` of them running
``pg_sleep``, the rest idle), takes ``--rounds`` snapshots with the PostgreSQL engine and
prints the client's wall time (median, p95), its CPU time and the server's own execution
time for dbtop's queries (from pg_stat_statements, under a role used only by the benchmark).
Without ``--url`` it starts a private PostgreSQL 15 (tests/servers/postgres.py: temporary
directory, pg_stat_statements, max_connections above the largest size) and removes it at
the end; a server given with ``--url`` needs pg_stat_statements and such max_connections.
The client opens that many sockets: raise ``ulimit -n`` first if it is lower.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import asyncpg

from dbtop.engines.base import ConnectOptions
from dbtop.engines.postgresql import PostgresEngine

ROLE = "dbtop_bench"
_busy: list[asyncio.Future] = []


def with_user(url: str, user: str) -> str:
    scheme, rest = url.split("://", 1)
    host = rest.split("@", 1)[1] if "@" in rest.split("/", 1)[0] else rest
    return f"{scheme}://{user}@{host}"


async def open_clients(url: str, count: int, active: int) -> list[asyncpg.Connection]:
    conns: list[asyncpg.Connection] = []
    for start in range(0, count, 50):
        batch = [
            asyncpg.connect(url, server_settings={"application_name": f"bench-{i}"})
            for i in range(start, min(start + 50, count))
        ]
        conns.extend(await asyncio.gather(*batch))
    # kept referenced: an unreferenced task may be collected mid-flight
    _busy.extend(asyncio.ensure_future(c.execute("SELECT pg_sleep(3600)")) for c in conns[:active])
    await asyncio.sleep(0.5)
    return conns


async def measure(url: str, size: int, active: int, rounds: int) -> dict[str, float]:
    admin = await asyncpg.connect(url)
    if not await admin.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", ROLE):
        await admin.execute(f"CREATE ROLE {ROLE} LOGIN SUPERUSER")
    clients = await open_clients(url, size, min(active, size))
    engine = PostgresEngine(with_user(url, ROLE), ConnectOptions())
    await engine.connect()
    try:
        for _ in range(3):  # warm: prepared statements, query texts, catalog caches
            await engine.snapshot()
        await admin.execute(
            "SELECT pg_stat_statements_reset((SELECT oid FROM pg_roles WHERE rolname = $1))", ROLE
        )
        walls = []
        sessions = 0
        # the sessions' connections are idle in this process: its CPU is the engine's
        cpu_started = time.process_time()
        for _ in range(rounds):
            started = time.perf_counter()
            snap = await engine.snapshot()
            walls.append((time.perf_counter() - started) * 1000)
            sessions = len(snap.sessions)
        cpu_ms = (time.process_time() - cpu_started) * 1000 / rounds
        server_ms = await admin.fetchval(
            "SELECT sum(total_exec_time) FROM pg_stat_statements s "
            "JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = $1",
            ROLE,
        )
    finally:
        await engine.close()
        for task in _busy:
            task.cancel()
        await asyncio.gather(*_busy, return_exceptions=True)
        _busy.clear()
        for conn in clients:
            conn.terminate()
        # pg_sleep does not notice its client leaving: end those backends server-side.
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name LIKE 'bench-%'"
        )
        await admin.close()
    walls.sort()
    return {
        "sessions": sessions,
        "median_ms": statistics.median(walls),
        "p95_ms": walls[max(int(len(walls) * 0.95) - 1, 0)],
        "server_ms": (server_ms or 0.0) / rounds,
        "cpu_ms": cpu_ms,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a superuser URL (default: a private server)")
    parser.add_argument("--sizes", default="100,1000,2000")
    parser.add_argument("--active", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    server = None
    if args.url is None:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests.servers import postgres

        server = postgres.start(max_connections=max(sizes) + 100)
        args.url = server.url("test")
    try:
        await run(args, sizes)
    finally:
        if server is not None:
            server.stop()


async def run(args: argparse.Namespace, sizes: list[int]) -> None:
    print(
        f"{'connections':>11} {'sessions':>8} {'wall median':>12} {'wall p95':>9} "
        f"{'server/snapshot':>15} {'client CPU/snapshot':>19}"
    )
    for size in sizes:
        r = await measure(args.url, size, args.active, args.rounds)
        print(
            f"{size:>11} {r['sessions']:>8} {r['median_ms']:>10.1f}ms {r['p95_ms']:>7.1f}ms "
            f"{r['server_ms']:>13.1f}ms {r['cpu_ms']:>17.1f}ms"
        )
        await asyncio.sleep(1)


if __name__ == "__main__":
    asyncio.run(main())
