"""``dbtop record URL``: the flight recorder, headless, until stopped or ``--duration``.

The same Poller as the live UI (one poll at a time, deadlines, reconnect with backoff), so
a recording holds what the TUI would have shown; every sample goes to the recording file
(dbtop.recording, docs/recording.md). A lost connection, a stalled server or a restart
never stops it: the poller keeps trying, and the file marks the gap with its reason. Only
a first connection that fails ends it (a wrong password will not fix itself), with one
line and exit status 2, like the UI.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from dbtop.cli import options
from dbtop.cli.common import add_url_argument, connect_options
from dbtop.engines.base import Engine
from dbtop.engines.registry import create_engine
from dbtop.errors import ConnectError, DbtopError
from dbtop.metrics import TargetMetrics, serve
from dbtop.metrics.server import parse_address
from dbtop.poller import Poller, PollResult, PollStatus
from dbtop.recording import timespec
from dbtop.recording.masking import masked_url
from dbtop.recording.writer import RecordingWriter

T = TypeVar("T")

HELP = (
    "Record snapshots to a file (SQLite, zstd frames) for `dbtop replay`: headless, "
    "through restarts and stalls, with a retention ring."
)


def _argument(parse: Callable[[str], T]) -> Callable[[str], T]:
    def convert(text: str) -> T:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_url_argument(parser)
    parser.add_argument(
        "--output",
        "-o",
        type=Path,
        default=None,
        metavar="FILE",
        help="the recording file (created 0600; an existing recording of the same server is "
        "appended to); default: a new file under the user's state directory",
    )
    parser.add_argument(
        "--interval",
        "-i",
        type=options.interval,
        default=1.0,
        metavar="S",
        help="seconds between samples (default 1; 0.1 to 3600)",
    )
    parser.add_argument(
        "--duration",
        type=_argument(timespec.duration),
        default=None,
        metavar="TIME",
        help="stop after this long (90s, 15m, 8h); default: until interrupted",
    )
    parser.add_argument(
        "--keep",
        type=_argument(timespec.duration),
        default=None,
        metavar="TIME",
        help="drop samples older than this (24h, 7d), oldest first; default: keep all",
    )
    parser.add_argument(
        "--max-size",
        type=_argument(timespec.size),
        default=None,
        metavar="SIZE",
        help="keep the file under this size (500MB, 2GB), oldest samples dropped first",
    )
    parser.add_argument(
        "--metrics",
        default=None,
        metavar="HOST:PORT",
        help="also serve what is recorded as Prometheus / OpenMetrics metrics on HOST:PORT "
        "(the same series as `dbtop exporter`, at the recording's interval)",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="print nothing but errors")


def default_output(engine: str, address: str) -> Path:
    from platformdirs import user_state_path

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    safe = "".join(c if c.isalnum() or c in "-." else "_" for c in address)
    return user_state_path("dbtop") / "recordings" / f"{engine}-{safe}-{stamp}.dbtoprec"


def run(args: argparse.Namespace) -> int:
    url = getattr(args, "url", None)
    if args.metrics is not None:
        parse_address(args.metrics)  # one line before anything starts
    connect = connect_options(args)
    probe = create_engine(url, connect)  # a bad URL fails here, before any file exists
    source = masked_url(url) if url else f"{probe.name}://{probe.address}"
    path = args.output or default_output(probe.name, probe.address)
    writer = RecordingWriter(
        path,
        source=source,
        engine=probe.name,
        interval_s=args.interval,
        keep_s=args.keep,
        max_bytes=args.max_size,
    )
    if not args.quiet:
        print(f"dbtop: recording {source} every {args.interval:g}s to {path}", file=sys.stderr)
    try:
        metrics = TargetMetrics(source) if args.metrics is not None else None
        return asyncio.run(record(lambda: create_engine(url, connect), writer, args, metrics))
    finally:
        writer.close()
        if not args.quiet:
            print(f"dbtop: {writer.frames_written} samples written to {path}", file=sys.stderr)


def _recording_engine(factory: Callable[[], Engine]) -> Engine:
    engine = factory()
    # idle sessions too: replay's ``a`` shows them, and a quiet row costs nothing in a delta
    engine.include_idle = True
    return engine


async def record(
    factory: Callable[[], Engine],
    writer: RecordingWriter,
    args: argparse.Namespace,
    metrics: TargetMetrics | None = None,
) -> int:
    """Poll into ``writer`` (and ``metrics``, served on ``--metrics``) until a signal,
    ``--duration`` or a first connection failure."""
    done = asyncio.Event()
    fatal: list[BaseException] = []
    failed: list[DbtopError] = []

    def arrived(result: PollResult) -> None:
        if metrics is not None:
            metrics.observe_result(result)
        try:
            writer.append(result.snapshot)
        except DbtopError as exc:  # the disk is full, the file went away: stop, say why
            failed.append(exc)
            done.set()

    def status_changed(status: PollStatus) -> None:
        if metrics is not None:
            metrics.observe_status(status)
        if status.error:
            writer.note_problem(status.error)
        if status.exception is not None and not status.connected_once:
            fatal.append(status.exception)
            done.set()

    poller = Poller(
        lambda: _recording_engine(factory),
        interval_s=args.interval,
        on_result=arrived,
        on_status=status_changed,
    )
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, done.set)
    server = None
    if metrics is not None:
        server = serve([metrics], args.metrics)
        if not args.quiet:
            host = args.metrics.rpartition(":")[0] or "0.0.0.0"
            print(f"dbtop: serving metrics on http://{host}:{server.port}/metrics", file=sys.stderr)
    task = asyncio.create_task(poller.run(), name="dbtop-recorder")
    try:
        timeout = None if args.duration is None else args.duration
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), timeout)
    finally:
        await poller.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        if server is not None:
            server.close()
    if failed:
        raise failed[0]
    if fatal:
        error = fatal[0]
        raise error if isinstance(error, DbtopError) else ConnectError(str(error))
    return 0
