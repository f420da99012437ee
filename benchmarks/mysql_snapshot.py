"""dbtop's MySQL engine at 1,000 connections (100 active), beside dolphie on the same server.

Starts a private MariaDB (temp data directory, free port; never the shared server), opens
the connections from a child process (so their cost is not counted as dbtop's), then for
``--seconds`` polls with dbtop's engine once a second while dolphie (from PyPI, in its own
venv, given with ``--dolphie``) watches the same server in tmux at a 1 s refresh. Prints the
snapshot time (median, p95, max), dbtop's CPU and dolphie's CPU over the same window.

    .venv/bin/python benchmarks/mysql_snapshot.py [--pfs on|off] [--connections 1000]
        [--active 100] [--seconds 30] [--dolphie /path/to/venv/bin/dolphie]

Figures, not assertions: nothing here fails on a slow machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.mysql.servers import start_private  # noqa: E402

DB = "bench"


async def _load(port: int, connections: int, active: int, seconds: float) -> None:
    """The child: ``connections`` sessions, ``active`` of them always running a statement,
    20 idle in a transaction holding row locks, 5 waiting on those locks."""
    import aiomysql

    conns = []
    for _ in range(connections):
        conns.append(
            await aiomysql.connect(host="127.0.0.1", port=port, user="root", db=DB, autocommit=True)
        )
    print("ready", flush=True)
    deadline = time.monotonic() + seconds

    async def run(conn, sql: str) -> None:
        async with conn.cursor() as cur:
            await cur.execute(sql)
            await cur.fetchall()

    async def busy(conn, n: int) -> None:
        while time.monotonic() < deadline:
            if n % 4 == 0:
                await run(conn, f"SELECT COUNT(*) FROM orders WHERE customer_id = {n}")
            else:
                await run(conn, "SELECT SLEEP(0.5)")

    holders = conns[active : active + 20]
    for i, conn in enumerate(holders):
        await run(conn, "SET SESSION innodb_lock_wait_timeout = 600")
        await run(conn, "BEGIN")
        await run(conn, f"UPDATE orders SET total = total WHERE id = {i + 1}")
    waiters = conns[active + 20 : active + 25]
    waits = []
    for i, conn in enumerate(waiters):
        await run(conn, "SET SESSION innodb_lock_wait_timeout = 600")
        waits.append(
            asyncio.ensure_future(run(conn, f"UPDATE orders SET total = 1 WHERE id = {i + 1}"))
        )
    await asyncio.gather(*(busy(c, n) for n, c in enumerate(conns[:active])))
    for conn in holders:
        await run(conn, "ROLLBACK")
    await asyncio.gather(*waits, return_exceptions=True)
    for conn in conns:
        conn.close()


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its reaped children, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(x) for x in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def _tree_cpu(pid: int) -> float:
    total = 0.0
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            total += _cpu_seconds(current)
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        todo.extend(int(c) for c in children)
    return total


def _start_dolphie(binary: str, port: int) -> tuple[str, int] | None:
    if not shutil.which("tmux") or not Path(binary).exists():
        return None
    session = f"dbtop-bench-{os.getpid()}"
    home = Path(f"/tmp/{session}")
    home.mkdir(exist_ok=True)
    command = f"HOME={home} {binary} -h 127.0.0.1 -P {port} -u root -r 1"
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "200", "-y", "50", command], check=True
    )
    pane = subprocess.run(
        ["tmux", "list-panes", "-t", session, "-F", "#{pane_pid}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return session, int(pane.stdout.split()[0])


async def _poll(url: str, seconds: float) -> tuple[list[float], float, float, int, int]:
    from dbtop.engines.base import ConnectOptions
    from dbtop.engines.mysql import MySQLEngine

    engine = MySQLEngine(url, ConnectOptions())
    await engine.connect()
    times: list[float] = []
    sessions = waits = 0
    cpu0, wall0 = time.process_time(), time.monotonic()
    end = wall0 + seconds
    while time.monotonic() < end:
        started = time.monotonic()
        snap = await engine.snapshot()
        times.append((time.monotonic() - started) * 1000.0)
        sessions, waits = len(snap.sessions), len(snap.lock_waits)
        await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    await engine.close()
    return times, cpu, wall, sessions, waits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pfs", choices=("on", "off"), default="on")
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--active", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--dolphie", default="/tmp/dolphie-venv/bin/dolphie")
    parser.add_argument(
        "--load", nargs=4, metavar=("PORT", "N", "ACTIVE", "S"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.load:
        port, n, active, seconds = args.load
        asyncio.run(_load(int(port), int(n), int(active), float(seconds)))
        return

    server = start_private(
        [
            f"--performance-schema={args.pfs.upper()}",
            f"--max-connections={args.connections + 100}",
            "--thread-cache-size=200",
        ],
        label="dbtop-bench",
    )
    dolphie = None
    load = None
    try:
        setup = server.connect()
        with setup.cursor() as cur:
            cur.execute(f"CREATE DATABASE {DB}")
            cur.execute(f"USE {DB}")
            cur.execute(
                "CREATE TABLE orders (id INT PRIMARY KEY, customer_id INT, total INT) ENGINE=InnoDB"
            )
            cur.execute("INSERT INTO orders SELECT seq, seq % 500, seq % 100 FROM seq_1_to_50000")
        setup.close()
        window = args.seconds + 10
        load = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--load",
                str(server.port),
                str(args.connections),
                str(args.active),
                str(window + 30),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert load.stdout is not None
        if load.stdout.readline().strip() != "ready":
            raise SystemExit("the load generator did not start")
        time.sleep(2)
        dolphie = _start_dolphie(args.dolphie, server.port)
        time.sleep(3)  # dolphie's start-up is not part of its steady state
        d_cpu0 = _tree_cpu(dolphie[1]) if dolphie else 0.0
        d_wall0 = time.monotonic()
        times, cpu, wall, sessions, waits = asyncio.run(_poll(server.url(DB), args.seconds))
        d_cpu = (_tree_cpu(dolphie[1]) - d_cpu0) if dolphie else None
        screen = ""
        if dolphie:
            # What dolphie showed, to see it was monitoring and not on an error screen.
            capture = ["tmux", "capture-pane", "-p", "-t", dolphie[0]]
            screen = subprocess.run(capture, capture_output=True, text=True).stdout
        d_wall = time.monotonic() - d_wall0
        times.sort()
        p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
        print(f"MariaDB {args.pfs=} connections={args.connections} active={args.active}")
        print(f"  sessions in the last snapshot: {sessions}, lock waits: {waits}")
        print(
            f"  dbtop snapshot: {len(times)} polls, median {statistics.median(times):.1f} ms, "
            f"p95 {p95:.1f} ms, max {times[-1]:.1f} ms"
        )
        print(
            f"  dbtop CPU at 1 s refresh: {cpu / wall:.1%} of one core "
            f"({cpu:.2f} s in {wall:.1f} s)"
        )
        if d_cpu is not None:
            print(
                f"  dolphie CPU at 1 s refresh (TUI in tmux): {d_cpu / d_wall:.1%} of one core "
                f"({d_cpu:.2f} s in {d_wall:.1f} s)"
            )
            lines = [" ".join(x.split()) for x in screen.splitlines() if x.strip()]
            print("  dolphie's screen began with: " + " | ".join(lines[:3])[:300])
        else:
            print(f"  dolphie: not run ({args.dolphie} or tmux missing)")
    finally:
        if dolphie is not None:
            subprocess.run(["tmux", "kill-session", "-t", dolphie[0]], check=False)
        if load is not None:
            load.terminate()
            load.wait(timeout=30)
        server.stop()


if __name__ == "__main__":
    main()
