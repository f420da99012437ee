"""What every subcommand shares: global options, building the engine, running async code."""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TypeVar

from dbtop.cli import options
from dbtop.cli.password import add_password_argument
from dbtop.engines.base import ConnectOptions, Engine
from dbtop.engines.registry import create_engine
from dbtop.safetext import redact

T = TypeVar("T")


def mask_process_title(argv: Sequence[str]) -> None:
    """Hide a password given in a URL from ``ps`` and /proc/PID/cmdline."""
    if all(redact(arg) == arg for arg in argv):
        return
    try:
        import setproctitle
    except ImportError:  # optional: without it the title cannot be rewritten
        return
    setproctitle.setproctitle(" ".join(["dbtop", *(redact(a) for a in argv)]))


def add_global_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--read-only",
        action="store_true",
        default=os.environ.get("DBTOP_READ_ONLY", "") not in ("", "0"),
        help="never change anything on the server: kill is refused (also DBTOP_READ_ONLY=1)",
    )
    parser.add_argument(
        "--connect-timeout",
        type=options.timeout,
        default=5.0,
        metavar="S",
        help="give up connecting after S seconds (default 5; 0.001 to 3600)",
    )
    parser.add_argument(
        "--statement-timeout",
        type=options.timeout,
        default=2.0,
        metavar="S",
        help="server-side time limit of each monitor query, seconds (default 2; 0.001 to "
        "3600, rounded up to whole milliseconds)",
    )
    add_password_argument(parser)


def connect_options(args: argparse.Namespace) -> ConnectOptions:
    return ConnectOptions(
        connect_timeout_s=args.connect_timeout,
        statement_timeout_ms=options.milliseconds(args.statement_timeout),
        read_only=args.read_only,
    )


@asynccontextmanager
async def connected(args: argparse.Namespace) -> AsyncIterator[Engine]:
    """The engine for ``args.url``, connected, closed on the way out whatever happens."""
    engine = create_engine(getattr(args, "url", None), connect_options(args))
    try:
        await engine.connect()
        yield engine
    finally:
        await engine.close()


def run_async(factory: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(factory())  # type: ignore[arg-type]


def add_url_argument(parser: argparse.ArgumentParser, *, required: bool = False) -> None:
    parser.add_argument(
        "url",
        nargs=None if required else "?",
        metavar="URL",
        help="postgresql://user@host:port/db (and mysql://, mongodb://, redis:// where "
        "installed); without it, PostgreSQL from PGHOST, PGUSER, PGDATABASE … like psql",
    )
