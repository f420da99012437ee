"""``dbtop snapshot``: one snapshot, two polls apart so that rates are real."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from dbtop.analysis.lockgraph import build_lock_forest, is_queue_edge
from dbtop.analysis.rates import rate_window_s, with_rates
from dbtop.cli import options, render
from dbtop.cli.common import add_url_argument, connected, run_async
from dbtop.model import Snapshot, to_jsonable

HELP = "Print one snapshot of the server (sessions, statements, indexes, locks) and exit."

#: Bumped when a key is renamed or removed; adding keys does not bump it (docs/json.md).
JSON_FORMAT_VERSION = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_url_argument(parser)
    parser.add_argument("--json", action="store_true", help="print JSON (docs/json.md)")
    parser.add_argument(
        "--interval",
        type=options.snapshot_interval,
        default=1.0,
        metavar="S",
        help="seconds between the two polls that give the rates (default 1; 0: one poll, "
        "no rates; else 0.1 to 3600; never under three of the server's counter flush periods, "
        "3 s on PostgreSQL 15+)",
    )
    parser.add_argument("--all", action="store_true", help="list idle sessions too (human output)")


def snapshot_document(snapshot: Snapshot) -> dict[str, Any]:
    """The public JSON shape of a snapshot (documented in docs/json.md)."""
    forest = build_lock_forest(snapshot.lock_waits)
    document: dict[str, Any] = {"format": JSON_FORMAT_VERSION}
    document.update(to_jsonable(snapshot))
    document["server"] = to_jsonable(snapshot.server)
    document["lock_roots"] = [root.session_id for root in forest.roots]
    document["lock_cycles"] = [list(cycle) for cycle in forest.cycles]
    document["blocked_count"] = dict(forest.blocked_count)
    # Every edge is kept; "hard" says the blocker holds the lock, false is queue order.
    for edge, shown in zip(snapshot.lock_waits, document.get("lock_waits", []), strict=False):
        shown["hard"] = not is_queue_edge(edge)
    # A Redis wait group (edges with no_holder) is no session: it frees nobody.
    groups = {e.blocker for e in snapshot.lock_waits if e.extra.get("no_holder")}
    document["lock_frees"] = {
        root: dict(zip(("direct", "total"), forest.frees(root), strict=True))
        for root in document["lock_roots"]
        if root not in groups
    }
    return document


async def take(args: argparse.Namespace) -> Snapshot:
    async with connected(args) as engine:
        first = await engine.snapshot()
        if args.interval <= 0:
            return first
        started = time.monotonic()
        # Not below the server's counter flush period (a 0.5 s PostgreSQL TPS is 0 or double).
        wait = max(args.interval, rate_window_s(first))
        await asyncio.sleep(max(wait - (time.monotonic() - started), 0))
        return with_rates(first, await engine.snapshot())


def run(args: argparse.Namespace) -> int:
    snapshot = run_async(lambda: take(args))
    if args.json:
        print(json.dumps(snapshot_document(snapshot), indent=2, ensure_ascii=False))
        return 0
    out = render.console()
    for part in render.snapshot_report(snapshot, include_idle=args.all):
        out.print(part)
        out.print()
    return 0
