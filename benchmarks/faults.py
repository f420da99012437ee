"""How long the CLI takes to turn a silent or refusing server into its one-line error.

    PYTHONPATH=src .venv/bin/python benchmarks/faults.py [--pg-url URL] [--rounds 3]
        [--statement-timeout 1] [--connect-timeout 2]

Each case runs ``dbtop snapshot --interval 0`` (and ``explain`` for the SQL engines)
through the loopback proxy of the fault suite (tests/servers/proxy.py) in front of a real
server, and prints the median of ``--rounds`` runs with the exit code and dbtop's line:

- stall after connect: the proxy stops forwarding when the first query of the snapshot
  (or the EXPLAIN) goes out; the time is from that moment to the process's exit;
- stall from the start: the proxy accepts and forwards nothing; time from the start;
- refused: nothing listens; time from the start.

PostgreSQL is a private PostgreSQL 15 started here (tests/servers/postgres.py) unless
``--pg-url`` names one; MariaDB is the machine's 127.0.0.1:3306 (root, database test) and
Redis 127.0.0.1:6379 (database 9), used as they are; a missing server is left out.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.servers.proxy import Proxy, reachable, through  # noqa: E402

SNAPSHOT_MARKERS = {
    "postgresql": b"pg_postmaster_start_time",
    "mysql": b"SHOW GLOBAL STATUS",
    "redis": b"SLOWLOG",
}
EXPLAIN_MARKER = b"4242"


def _dbtop(args: argparse.Namespace, *rest: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH") or str(ROOT / "src")}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "dbtop.cli",
            "--connect-timeout",
            str(args.connect_timeout),
            "--statement-timeout",
            str(args.statement_timeout),
            *rest,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def _stall_after(marker: bytes, command: Callable[[str], list[str]], args: argparse.Namespace):  # type: ignore[no-untyped-def]
    def case(proxy: Proxy, url: str) -> tuple[float, subprocess.CompletedProcess[str]]:
        proxy.stall_on(marker)
        proc = _dbtop(args, *command(url))
        end = time.monotonic()
        stalled = proxy.stalled_at
        return (end - stalled if stalled is not None else float("nan")), proc

    return case


def _from_start(fault: str, command: Callable[[str], list[str]], args: argparse.Namespace):  # type: ignore[no-untyped-def]
    def case(proxy: Proxy, url: str) -> tuple[float, subprocess.CompletedProcess[str]]:
        getattr(proxy, fault)()
        started = time.monotonic()
        proc = _dbtop(args, *command(url))
        return time.monotonic() - started, proc

    return case


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg-url", help="a PostgreSQL URL (default: a private server)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--statement-timeout", type=float, default=1.0)
    parser.add_argument("--connect-timeout", type=float, default=2.0)
    args = parser.parse_args()
    server = None
    if args.pg_url is None:
        from tests.servers import postgres

        server = postgres.start()
        args.pg_url = server.url("test")
    try:
        run(args)
    finally:
        if server is not None:
            server.stop()


def run(args: argparse.Namespace) -> None:
    pg = urlsplit(args.pg_url)
    targets = [
        ("postgresql", (pg.hostname or "127.0.0.1", pg.port or 5432), args.pg_url),
        ("mysql", ("127.0.0.1", 3306), "mysql://root@127.0.0.1:3306/test"),
        ("redis", ("127.0.0.1", 6379), "redis://127.0.0.1:6379/9"),
    ]
    snapshot = lambda url: ["snapshot", "--interval", "0", url]  # noqa: E731
    explain = lambda url: ["explain", url, "--query", "SELECT 4242"]  # noqa: E731
    print(
        f"statement timeout {args.statement_timeout:g}s, connect timeout "
        f"{args.connect_timeout:g}s, median of {args.rounds}\n"
    )
    print(f"{'engine':<11} {'case':<30} {'median s':>8} {'exit':>4}  dbtop says")
    for engine, address, url in targets:
        if not reachable(*address):
            print(f"{engine:<11} (no server at {address[0]}:{address[1]}: left out)")
            continue
        cases = [
            (
                "snapshot, stall after connect",
                _stall_after(SNAPSHOT_MARKERS[engine], snapshot, args),
            ),
            ("snapshot, stall from the start", _from_start("stall", snapshot, args)),
            ("snapshot, refused", _from_start("refuse", snapshot, args)),
        ]
        if engine != "redis":
            cases.insert(
                1, ("explain, stall after connect", _stall_after(EXPLAIN_MARKER, explain, args))
            )
        for label, case in cases:
            times: list[float] = []
            last: subprocess.CompletedProcess[str] | None = None
            for _ in range(args.rounds):
                with Proxy(*address) as proxy:
                    seconds, last = case(proxy, through(url, proxy.port))
                times.append(seconds)
            assert last is not None
            line = (last.stderr.strip().splitlines() or ["(nothing)"])[-1]
            print(
                f"{engine:<11} {label:<30} {statistics.median(times):>8.2f} "
                f"{last.returncode:>4}  {line[:110]}"
            )


if __name__ == "__main__":
    main()
