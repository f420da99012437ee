"""``dbtop explain``: the plan of a query, or of a session's current query."""

from __future__ import annotations

import argparse
import json
import sys

from dbtop.cli import render
from dbtop.cli.common import add_url_argument, connected, run_async
from dbtop.errors import UsageError
from dbtop.model import Plan, to_jsonable

HELP = (
    "Show the plan of a query (--query) or of a session's current query (--session). "
    "Nothing is executed unless --analyze is given, and then only reads, rolled back."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_url_argument(parser)
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--session", metavar="ID", help="explain this session's current query")
    what.add_argument(
        "--query", metavar="SQL", help="explain this statement ('-' reads it from stdin)"
    )
    parser.add_argument(
        "--analyze",
        action="store_true",
        help="run the statement to get real timings (reads only, in a rolled-back transaction)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON (docs/json.md)")


def plan_document(plan: Plan) -> dict[str, object]:
    return {
        "query": plan.query,
        "analyzed": plan.analyzed,
        "generic": plan.generic,
        "notes": list(plan.notes),
        "tree": to_jsonable(plan.root),
        "raw": to_jsonable(plan.raw),
    }


async def _explain(args: argparse.Namespace, query: str | None) -> tuple[str, Plan]:
    async with connected(args) as engine:
        plan = await engine.explain(query=query, session_id=args.session, analyze=args.analyze)
        return engine.name, plan


def run(args: argparse.Namespace) -> int:
    query = args.query
    if query == "-":
        query = sys.stdin.read()
    if query is not None and not query.strip():
        raise UsageError("the query is empty")
    engine_name, plan = run_async(lambda: _explain(args, query))
    if args.json:
        document = {"engine": engine_name, **plan_document(plan)}
        print(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        render.console().print(render.plan_tree(plan))
    return 0
