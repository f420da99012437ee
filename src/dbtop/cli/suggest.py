"""``dbtop suggest``: which index would fix the workload, how sure dbtop is, what it costs.

The engine's advisor does the work (docs/advisor.md); this prints its ``Advice`` as tables,
with each ``CREATE INDEX`` on a line of its own so it can be copied, or as JSON.
"""

from __future__ import annotations

import argparse
import json

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from dbtop.cli import render
from dbtop.cli.common import add_url_argument, connected, run_async
from dbtop.humanize import human_bytes
from dbtop.model import Advice, Rejection, ServerSummary, Suggestion, to_jsonable
from dbtop.safetext import one_line

HELP = (
    "Suggest indexes for the current workload (verified with hypothetical indexes where the "
    "server has them) and report unused, duplicate and invalid indexes."
)

#: the JSON document's format version (docs/advisor.md)
FORMAT = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_url_argument(parser)
    parser.add_argument("--json", action="store_true", help="print JSON (docs/advisor.md)")
    parser.add_argument(
        "--rejected",
        action="store_true",
        help="also list the candidates that were considered and dropped, with the reason",
    )


async def _suggest(args: argparse.Namespace) -> tuple[str, ServerSummary, Advice]:
    async with connected(args) as engine:
        snapshot = await engine.snapshot()
        advice = await engine.suggest()
        return engine.name, snapshot.server, advice


def document(engine: str, server: ServerSummary, advice: Advice) -> dict[str, object]:
    """The ``dbtop suggest --json`` document."""
    return {
        "format": FORMAT,
        "engine": engine,
        "server": to_jsonable(server),
        "suggestions": to_jsonable(advice.suggestions),
        "findings": to_jsonable(advice.findings),
        "rejected": to_jsonable(advice.rejected),
        "notices": to_jsonable(advice.notices),
        "extra": to_jsonable(advice.extra),
    }


def run(args: argparse.Namespace) -> int:
    engine, server, advice = run_async(lambda: _suggest(args))
    if args.json:
        print(json.dumps(document(engine, server, advice), indent=2, ensure_ascii=False))
        return 0
    console = render.console()
    for part in report(server, advice, rejected=args.rejected):
        console.print(part)
    return 0


def index_label(
    schema: str | None,
    table: str,
    columns: tuple[str, ...],
    include: tuple[str, ...] = (),
    where: str | None = None,
) -> str:
    text = f"{schema}.{table}" if schema else table
    text += " (" + ", ".join(columns) + ")"
    if include:
        text += " INCLUDE (" + ", ".join(include) + ")"
    if where:
        text += f" WHERE {where}"
    return text


def _cost(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _gain(s: Suggestion) -> str:
    if s.cost_before and s.cost_after is not None:
        return f"{1 - s.cost_after / s.cost_before:.0%}"
    return "-"


def report(server: ServerSummary, advice: Advice, *, rejected: bool) -> list[RenderableType]:
    """The human-readable report, server text always as literal ``Text``."""
    extra = advice.extra
    head = Text(one_line(f"{server.engine} {server.version} · {server.address}"), style="bold")
    figures = [
        f"{extra.get('analyzed', 0)} of {extra.get('statements', 0)} statements analyzed",
        f"{extra.get('candidates', 0)} candidates",
    ]
    if extra.get("verification"):
        # each engine says what checked its suggestions (hypopg is PostgreSQL's only)
        figures.append(one_line(str(extra["verification"])))
    elif extra.get("hypopg"):
        figures.append(f"verified with hypopg {one_line(extra['hypopg'])}")
    elif "verified" in extra:
        figures.append("not verified")
    if extra.get("elapsed_s") is not None:
        figures.append(f"{extra['elapsed_s']:.2f}s")
    parts: list[RenderableType | None] = [
        Group(head, Text(" · ".join(figures))),
        render.notices(advice.notices),
        _suggestions(advice, server.engine),
        _findings(advice),
        _rejected(advice.rejected) if rejected else None,
    ]
    if not rejected and advice.rejected:
        parts.append(
            Text(f"{len(advice.rejected)} candidate(s) rejected: --rejected lists them and why")
        )
    return [p for p in parts if p is not None]


def _suggestions(advice: Advice, engine: str) -> RenderableType | None:
    if not advice.suggestions:
        # Redis has no indexes to suggest: its advice is all findings.
        return None if engine == "redis" else Text("No index to suggest.")
    table = Table(title="Suggested indexes", title_justify="left", show_edge=False)
    for column in ("#", "index", "verified", "cost before", "after", "gain", "size", "time"):
        table.add_column(column, justify="left" if column in ("index", "verified") else "right")
    for n, s in enumerate(advice.suggestions, 1):
        share = sum(q.share for q in s.queries)
        table.add_row(
            str(n),
            render.text(index_label(s.schema, s.table, s.columns, s.include, s.where), 70),
            "yes" if s.verified else "NO",
            _cost(s.cost_before),
            _cost(s.cost_after),
            _gain(s),
            human_bytes(s.size_bytes),
            f"{share:.1%}",
        )
    details: list[RenderableType] = [table]
    for n, s in enumerate(advice.suggestions, 1):
        # a replacement's DROP statements follow the CREATE, one a line, to copy as they are
        statement = "\n   ".join(one_line(line) for line in s.statement.splitlines())
        details.append(Text(f"\n{n}. ", style="bold") + Text(statement))
        # in full: the partition recipe, the writes' figures, what it replaces
        details.append(Text("   " + one_line(s.reason), style="dim"))
        for q in s.queries[:3]:
            line = Text(f"   {q.share:6.1%}  ")
            if q.cost_before is not None:
                line.append(f"{q.cost_before:,.1f} → {_cost(q.cost_after)}  ")
            line.append(one_line(q.query, 90))
            details.append(line)
        if len(s.queries) > 3:
            details.append(Text(f"   … and {len(s.queries) - 3} more statement(s)"))
    return Group(*details)


def _findings(advice: Advice) -> RenderableType | None:
    if not advice.findings:
        return None
    about_indexes = all(f.kind.endswith("_index") for f in advice.findings)
    table = Table(
        title="Index health" if about_indexes else "Findings",
        title_justify="left",
        show_edge=False,
    )
    for column in ("kind", "index" if about_indexes else "what", "finding", "fix"):
        table.add_column(column)
    for finding in advice.findings:
        fix = render.text(finding.statement, 70)
        if finding.warning:
            fix.append("\n")
            fix.append(one_line(f"careful: {finding.warning}"), style="bold")
        table.add_row(
            render.text(finding.kind),
            render.text(finding.object, 40),
            render.text(finding.message, 90),
            fix,
        )
    return table


def _rejected(rejected: tuple[Rejection, ...]) -> RenderableType:
    if not rejected:
        return Text("No candidate was rejected.")
    table = Table(title="Rejected candidates", title_justify="left", show_edge=False)
    table.add_column("index")
    table.add_column("reason")
    for r in rejected:
        table.add_row(
            render.text(index_label(r.schema, r.table, r.columns, r.include, r.where), 70),
            render.text(r.reason),
        )
    return table
