"""``dbtop profile``: switch on (or off) the statement profiler where an engine needs one.

MongoDB records slow operations only where its profiler is on: this is a write on the
server, so it asks first (or takes --yes) and is refused in --read-only mode. Engines whose
statement statistics are always on (PostgreSQL, MySQL, Redis) say so.
"""

from __future__ import annotations

import argparse

from dbtop.cli import options
from dbtop.cli.common import add_url_argument, connected, run_async
from dbtop.cli.kill import confirm
from dbtop.errors import RefusedError, UsageError
from dbtop.model import Feature
from dbtop.safetext import one_line

HELP = "Turn the profiler on (or off) for a database, where the engine has one (MongoDB)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_url_argument(parser, required=True)
    parser.add_argument("database", metavar="DATABASE", help="the database to profile")
    parser.add_argument(
        "--slowms",
        type=options.positive_int,
        default=100,
        help="record operations slower than this many milliseconds (default 100)",
    )
    level = parser.add_mutually_exclusive_group()
    level.add_argument("--all", action="store_true", help="record every operation (level 2)")
    level.add_argument("--off", action="store_true", help="turn the profiler off (level 0)")
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")


async def _profile(args: argparse.Namespace) -> str:
    async with connected(args) as engine:
        if not engine.capabilities.has(Feature.PROFILER):
            why = engine.capabilities.notices_for(Feature.PROFILER)
            raise UsageError(
                why[0].message
                if why
                else f"{engine.name} keeps its statement statistics without a profiler to switch on"
            )
        level = 0 if args.off else 2 if args.all else 1
        if not args.yes:
            what = {
                0: "turn the profiler off",
                1: f"record operations over {args.slowms} ms",
                2: "record every operation",
            }[level]
            if not confirm(f"On {engine.address}, {what} in database {args.database}?"):
                raise RefusedError("not confirmed: nothing was done")
        return await engine.set_profiling(args.database, args.slowms, level)


def run(args: argparse.Namespace) -> int:
    if args.read_only:
        raise RefusedError("profile changes the server: refused in --read-only mode")
    if args.slowms < 0:
        raise UsageError("--slowms must be 0 or more")
    print(one_line(run_async(lambda: _profile(args))))
    return 0
