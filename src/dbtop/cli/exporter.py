"""``dbtop exporter URL|TARGET|GROUP … --metrics HOST:PORT``: no screen, one poller per
target, and a Prometheus / OpenMetrics endpoint (dbtop.metrics) until SIGINT or SIGTERM.

A target that cannot be reached does not stop the exporter (``dbtop_up`` says 0 and its
poller keeps retrying with backoff); each change of a target's state is one line on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from dbtop.cli import options
from dbtop.cli import targets as cli_targets
from dbtop.cli.common import redact
from dbtop.cli.fleet import engine_factory
from dbtop.engines.registry import create_engine
from dbtop.metrics import TargetMetrics, serve
from dbtop.metrics.server import parse_address
from dbtop.poller import Poller, PollResult, PollStatus
from dbtop.targets import Target

HELP = (
    "Serve what dbtop sees of each target as Prometheus / OpenMetrics metrics on "
    "--metrics HOST:PORT (no screen; see README, Prometheus)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    cli_targets.add_targets_argument(parser)
    parser.add_argument(
        "--metrics",
        required=True,
        metavar="HOST:PORT",
        help="where to serve /metrics, e.g. 127.0.0.1:9187 (:9187 for every interface)",
    )
    parser.add_argument(
        "--interval",
        "-i",
        type=options.interval,
        default=15.0,
        metavar="S",
        help="seconds between polls of each target (default 15; a target's own interval "
        "in the config file wins)",
    )


def _pollers(chosen: list[Target], args: argparse.Namespace) -> list[tuple[Poller, TargetMetrics]]:
    made: list[tuple[Poller, TargetMetrics]] = []
    for target in chosen:
        url = cli_targets.connect_url(target)
        connect = cli_targets.target_options(target, args)
        create_engine(url, connect)  # a bad URL fails here, before anything is served
        metrics = TargetMetrics(target.name)

        def on_status(status: PollStatus, metrics: TargetMetrics = metrics) -> None:
            old = metrics.status
            metrics.observe_status(status)
            if old is None or old.state != status.state or old.error != status.error:
                why = f": {redact(status.error)}" if status.error else ""
                print(f"dbtop: {metrics.name}: {status.state}{why}", file=sys.stderr, flush=True)

        def on_result(result: PollResult, metrics: TargetMetrics = metrics) -> None:
            metrics.observe_result(result)

        poller = Poller(
            engine_factory(url, connect),
            interval_s=target.interval_s or args.interval,
            on_result=on_result,
            on_status=on_status,
        )
        made.append((poller, metrics))
    return made


async def _run(made: list[tuple[Poller, TargetMetrics]], address: str) -> int:
    server = serve([m for _, m in made], address)
    print(
        f"dbtop: serving metrics on http://{address.rpartition(':')[0] or '0.0.0.0'}:"
        f"{server.port}/metrics",
        file=sys.stderr,
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
    tasks = [asyncio.create_task(p.run()) for p, _ in made]
    try:
        await stop.wait()
    finally:
        await asyncio.gather(*(p.stop() for p, _ in made), return_exceptions=True)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        server.close()
    return 0


def run(args: argparse.Namespace) -> int:
    parse_address(args.metrics)  # one line before anything starts
    made = _pollers(cli_targets.targets_of(args), args)
    return asyncio.run(_run(made, args.metrics))
