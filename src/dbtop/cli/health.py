"""``dbtop health``: what a DBA checks first when paged (docs/health.md), and the progress
of long maintenance, from one poll.

Exit status: 0 when no finding reaches ``--fail-on`` (critical by default), 1 when one
does, 2 when the server could not be checked at all (as every other subcommand), so a
cron job or a monitoring probe can act on it.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from dbtop.analysis.health import by_severity
from dbtop.cli import render
from dbtop.cli.common import add_url_argument, connected, run_async
from dbtop.model import Feature, Finding, Severity, Snapshot, to_jsonable

HELP = (
    "Check the server's health (wraparound, xmin horizon, slots, replication, sequences, "
    "vacuum, memory, evictions …) and the progress of long maintenance; exit 1 when a "
    "finding reaches --fail-on."
)

#: the JSON document's format version (docs/health.md)
FORMAT = 1

_LEVELS = {"critical": (Severity.CRITICAL,), "warning": (Severity.CRITICAL, Severity.WARNING)}
_STYLE = {Severity.CRITICAL: "bold red", Severity.WARNING: "yellow", Severity.INFO: ""}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_url_argument(parser)
    parser.add_argument("--json", action="store_true", help="print JSON (docs/health.md)")
    parser.add_argument(
        "--fail-on",
        choices=("critical", "warning", "never"),
        default="critical",
        help="exit 1 when a finding is at least this severe (default critical)",
    )


async def _take(args: argparse.Namespace) -> Snapshot:
    async with connected(args) as engine:
        return await engine.snapshot()


def failing(findings: tuple[Finding, ...], fail_on: str) -> bool:
    levels = _LEVELS.get(fail_on, ())
    return any(f.severity in levels for f in findings)


def document(snapshot: Snapshot) -> dict[str, Any]:
    """The ``dbtop health --json`` document (docs/health.md)."""
    return {
        "format": FORMAT,
        "engine": snapshot.engine,
        "server": to_jsonable(snapshot.server),
        "taken_at": snapshot.taken_at.isoformat(),
        "findings": to_jsonable(by_severity(snapshot.findings)),
        "progress": [
            {"session": s.id, **to_jsonable(s.progress)}
            for s in snapshot.sessions
            if s.progress is not None
        ],
        "not_checked": to_jsonable(
            [
                n
                for n in (*snapshot.capabilities.notices, *snapshot.notices)
                if n.feature is Feature.HEALTH
            ]
        ),
    }


def findings_table(findings: list[Finding]) -> Table:
    table = Table(title="Health", title_justify="left", show_edge=False)
    for column in ("severity", "kind", "object", "finding", "fix"):
        table.add_column(column)
    for f in findings:
        table.add_row(
            Text(f.severity.value, style=_STYLE.get(f.severity, "")),
            render.text(f.kind),
            render.text(f.object, 40),
            render.text(f.message + (f" ({f.warning})" if f.warning else ""), 80),
            render.text(f.statement, 60),
        )
    return table


def progress_table(snapshot: Snapshot) -> Table | None:
    running = [s for s in snapshot.sessions if s.progress is not None]
    if not running:
        return None
    table = Table(title="Maintenance in progress", title_justify="left", show_edge=False)
    for column in ("session", "command", "phase", "done", "eta"):
        table.add_column(column)
    for s in running:
        p = s.progress
        assert p is not None
        done = f"{p.percent:.1f}%" if p.percent is not None else "?"
        table.add_row(
            render.text(s.id),
            render.text(p.command),
            render.text(p.phase),
            Text(done),
            Text(f"{p.eta_s:.0f} s" if p.eta_s is not None else "?"),
        )
    return table


def run(args: argparse.Namespace) -> int:
    snapshot = run_async(lambda: _take(args))
    findings = tuple(by_severity(snapshot.findings))
    if args.json:
        print(json.dumps(document(snapshot), indent=2, ensure_ascii=False))
    else:
        out = render.console()
        parts: list[RenderableType | None] = [
            render.summary(snapshot),
            render.notices(
                n
                for n in (*snapshot.capabilities.notices, *snapshot.notices)
                if n.feature is Feature.HEALTH
            ),
            findings_table(list(findings)) if findings else Text("no findings"),
            progress_table(snapshot),
        ]
        for part in parts:
            if part is not None:
                out.print(part)
                out.print()
    return 1 if failing(findings, args.fail_on) else 0
