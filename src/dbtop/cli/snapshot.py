"""``dbtop snapshot``: one snapshot, two polls apart so that rates are real."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from dbtop.analysis.lockgraph import build_lock_forest, is_queue_edge
from dbtop.analysis.rates import rate_window_s, with_rates
from dbtop.cli import options, render, targets
from dbtop.cli.common import connected, run_async
from dbtop.model import Snapshot, to_jsonable

HELP = (
    "Print one snapshot of the server (sessions, statements, indexes, locks) and exit; "
    "of several servers (URLs, targets, a group) with --json, one document, taken at once."
)

#: Bumped when a key is renamed or removed; adding keys does not bump it (docs/json.md).
JSON_FORMAT_VERSION = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    targets.add_targets_argument(parser)
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
    parser.add_argument(
        "--statements-by",
        choices=render.STATEMENT_ORDERS,
        default="rate",
        help="order of the statements table (human output): rate = ms/s between the two "
        "polls, what costs now (default); total = time since the statistics were reset",
    )


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
    chosen = None if targets.is_single_url(args) else targets.targets_of(args)
    if chosen is not None and len(chosen) > 1:
        from dbtop.cli.multi_snapshot import run_many

        return run_many(chosen, args)
    args = targets.single(args) if chosen is None else targets.for_target(chosen[0], args)
    snapshot = run_async(lambda: take(args))
    if args.json:
        print(json.dumps(snapshot_document(snapshot), indent=2, ensure_ascii=False))
        return 0
    out = render.console()
    parts = render.snapshot_report(
        snapshot, include_idle=args.all, statements_by=args.statements_by
    )
    for part in parts:
        out.print(part)
        out.print()
    return 0
