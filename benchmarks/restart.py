"""How long the live poller takes to notice a server that went away, and to be live again
once it is back (what the TUI's header shows: live → reconnecting → live).

    PYTHONPATH=src .venv/bin/python benchmarks/restart.py [--interval 1] [--down 3]
        [--rounds 3] [--pg-url URL]

A server restart, seen from the client: every connection is reset and nothing listens for
a while. The loopback proxy of the fault suite (tests/servers/proxy.py) does exactly that
in front of a real server (``refuse()``, then ``resume()`` after ``--down`` seconds), so
the three engines are measured the same way without restarting anybody's server. Printed
per engine, median of ``--rounds``: from the reset to the poller saying it lost the
server, and from the server's return to the next result.

PostgreSQL is a private PostgreSQL 15 started here unless ``--pg-url`` names one; MariaDB
(127.0.0.1:3306) and Redis (127.0.0.1:6379, database 9) are the machine's, used as they are.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.servers.proxy import Proxy, reachable, through  # noqa: E402

from dbtop.engines.base import ConnectOptions  # noqa: E402
from dbtop.engines.registry import create_engine  # noqa: E402
from dbtop.poller import Poller, PollResult, PollState, PollStatus  # noqa: E402


async def _until(condition: object, timeout: float = 120.0) -> float:
    """Seconds until ``condition()`` holds, checked every 10 ms."""
    started = time.monotonic()
    while not condition():  # type: ignore[operator]
        if time.monotonic() - started > timeout:
            raise TimeoutError("the poller never got there")
        await asyncio.sleep(0.01)  # the resolution of the measurement
    return time.monotonic() - started


async def one_round(
    url: str, address: tuple[str, int], args: argparse.Namespace
) -> tuple[float, float]:
    results: list[PollResult] = []
    states: list[PollState] = []

    def on_status(status: PollStatus) -> None:
        states.append(status.state)

    with Proxy(*address) as proxy:
        options = ConnectOptions(connect_timeout_s=2.0, statement_timeout_ms=1000)
        target = through(url, proxy.port)
        poller = Poller(
            lambda: create_engine(target, options),
            interval_s=args.interval,
            on_result=results.append,
            on_status=on_status,
        )
        task = asyncio.create_task(poller.run())
        try:
            await _until(lambda: results)
            proxy.refuse()
            lost = await _until(
                lambda: states and states[-1] in (PollState.RECONNECTING, PollState.STALE)
            )
            await asyncio.sleep(args.down)  # the server is down this long (the scenario)
            seen = len(results)
            proxy.resume()
            back = await _until(lambda: len(results) > seen)
        finally:
            await poller.stop()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 10)
    return lost, back


@contextlib.contextmanager
def _pg_url(given: str | None) -> Iterator[str]:
    if given:
        yield given
        return
    from tests.servers import postgres

    server = postgres.start()
    try:
        yield server.url()
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--down", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pg-url")
    args = parser.parse_args()
    with _pg_url(args.pg_url) as pg:
        parts = urlsplit(pg)
        targets = [
            ("postgresql", (parts.hostname or "127.0.0.1", parts.port or 5432), pg),
            ("mysql", ("127.0.0.1", 3306), "mysql://root@127.0.0.1:3306/test"),
            ("redis", ("127.0.0.1", 6379), "redis://127.0.0.1:6379/9"),
        ]
        print(f"interval {args.interval:g}s, down {args.down:g}s, median of {args.rounds}")
        print(f"{'engine':<11} {'reset → lost (s)':>17} {'back → live (s)':>16}")
        for engine, address, url in targets:
            if not reachable(*address):
                print(f"{engine:<11} (no server at {address[0]}:{address[1]}: left out)")
                continue
            rounds = [asyncio.run(one_round(url, address, args)) for _ in range(args.rounds)]
            lost = statistics.median(r[0] for r in rounds)
            back = statistics.median(r[1] for r in rounds)
            print(f"{engine:<11} {lost:>17.2f} {back:>16.2f}")


if __name__ == "__main__":
    main()
