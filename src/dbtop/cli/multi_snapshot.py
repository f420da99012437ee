"""``dbtop snapshot A B …``: every target at once, one document (docs/json.md).

Each target is taken concurrently on its own connection with its own options and a time
limit of its own, so one hung server costs its limit and never the others' answers. The
exit status is 0 when every target answered, 2 when any did not (their errors are in the
document, and one line each on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from dbtop.cli import render, targets
from dbtop.cli.common import redact, run_async
from dbtop.errors import DbtopError
from dbtop.targets import Target

#: the document's own version (the per-target documents keep theirs)
MULTI_FORMAT_VERSION = 1


def _limit(args: argparse.Namespace) -> float:
    """The most one target may take: connect, two polls with their deadlines, the gap."""
    return args.connect_timeout + 1 + 2 * (args.statement_timeout * 4 + 2) + args.interval


async def _one(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    from dbtop.cli.snapshot import snapshot_document, take

    entry: dict[str, Any] = {"target": target.name, "url": target.url}
    started = time.monotonic()
    try:
        snapshot = await asyncio.wait_for(take(targets.for_target(target, args)), _limit(args))
    except DbtopError as exc:
        entry["error"] = redact(str(exc))
    except TimeoutError:
        entry["error"] = f"no answer within {_limit(args):.0f}s"
    except Exception as exc:  # a driver error an engine did not translate
        entry["error"] = redact(f"{type(exc).__name__}: {' '.join(str(exc).split())}")
    else:
        entry["snapshot"] = snapshot_document(snapshot)
        entry["_snapshot"] = snapshot
    entry["elapsed_s"] = round(time.monotonic() - started, 3)
    return entry


async def take_all(chosen: list[Target], args: argparse.Namespace) -> list[dict[str, Any]]:
    return list(await asyncio.gather(*(_one(t, args) for t in chosen)))


def run_many(chosen: list[Target], args: argparse.Namespace) -> int:
    entries = run_async(lambda: take_all(chosen, args))
    failed = [e for e in entries if "error" in e]
    if args.json:
        document = {
            "format": MULTI_FORMAT_VERSION,
            "targets": [{k: v for k, v in e.items() if k != "_snapshot"} for e in entries],
        }
        print(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        out = render.console()
        for entry in entries:
            out.rule(entry["target"], style="bold")
            if "error" in entry:
                out.print(f"error: {entry['error']}", markup=False, highlight=False)
                continue
            for part in render.snapshot_report(entry["_snapshot"], include_idle=args.all):
                out.print(part)
                out.print()
    for entry in failed:
        print(f"dbtop: {entry['target']}: {entry['error']}", file=sys.stderr)
    return 2 if failed else 0
