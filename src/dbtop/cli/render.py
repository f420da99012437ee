"""Human-readable output of the one-shot commands (the TUI has its own panes).

Server text goes into ``rich.text.Text`` objects through ``safetext``, never into markup
strings, so a query containing ``[bold]`` or an escape sequence prints literally.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from dbtop.analysis import sessions
from dbtop.analysis.lockgraph import LockForest, LockNode, build_lock_forest
from dbtop.analysis.plans import costliest as costliest_node
from dbtop.humanize import (
    human_bytes,
    human_seconds,
    inferred_marker,
    margin_suffix,
    margin_suffix_bytes,
    no_holder,
    plan_figures,
)
from dbtop.model import Notice, Plan, PlanNode, Session, Snapshot, Statement
from dbtop.safetext import literal, one_line

QUERY_WIDTH = 60


def console() -> Console:
    """stdout; plain (no colour, no width guess of 80) when it is not a terminal."""
    if sys.stdout.isatty():
        return Console(highlight=False)
    width = int(os.environ.get("COLUMNS", "160") or 160)
    return Console(highlight=False, no_color=True, width=width, soft_wrap=False)


def text(value: object, limit: int | None = None, style: str = "") -> Text:
    return Text(one_line(value, limit), style=style)


def _num(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.{digits}f}"


def summary(snapshot: Snapshot) -> RenderableType:
    server = snapshot.server
    parts = [
        f"{server.engine} {server.version}",
        server.address,
        f"role {server.role}" if server.role else None,
        f"up {human_seconds(server.uptime_s)}" if server.uptime_s is not None else None,
    ]
    line1 = Text(" · ".join(literal(p, keep_newlines=False) for p in parts if p), style="bold")
    figures: list[str] = []
    rates = snapshot.rates
    counter = server.throughput_counter
    if rates and counter is not None and counter in rates.server:
        tps = rates.server[counter]
        figures.append(f"{server.throughput_label} {tps:,.1f}")
    if server.connections is not None:
        cap = f"/{server.max_connections}" if server.max_connections else ""
        figures.append(f"connections {server.connections}{cap}")
    ratio = rates.server.get("cache_hit_ratio") if rates else None
    ratio = server.cache_hit_ratio if ratio is None else ratio
    if ratio is not None:
        figures.append(f"cache hit {ratio * 100:.2f}%")
    if server.replication_lag_s is not None:
        figures.append(f"replication lag {human_seconds(server.replication_lag_s)}")
    if server.database_size_bytes is not None:
        figures.append(f"{server.database or 'database'} {human_bytes(server.database_size_bytes)}")
    if rates:
        figures.append(
            f"rates over {rates.interval_s:.1f}s" + (" (counters reset)" if rates.reset else "")
        )
    return Group(line1, Text(" · ".join(figures)))


def _session_style(session: Session, forest: LockForest) -> str:
    # The same classification as the UI's flags (analysis.sessions); the report colours
    # only the three that call for action.
    if sessions.is_root_blocker(session, forest):
        return "bold red"
    if sessions.is_waiting(session):
        return "yellow"
    if sessions.idle_in_transaction(session):
        return "magenta"
    return ""


def sessions_table(snapshot: Snapshot, forest: LockForest, *, include_idle: bool) -> Table:
    label = snapshot.capabilities.labels.sessions
    shown = [
        s
        for s in snapshot.sessions
        if include_idle or not sessions.hidden_when_idle_hidden(s, forest)
    ]
    hidden = len(snapshot.sessions) - len(shown)
    shown.sort(key=lambda s: -(s.duration_s or 0.0))
    title = f"{label}: {len(snapshot.sessions)}"
    if hidden:
        title += f" ({hidden} idle not shown; --all shows them)"
    table = Table(title=title, title_justify="left", expand=False, show_edge=False)
    widths = {"id": 6, "user": 8, "database": 8, "state": 10, "duration": 8, "wait": 10}
    for column in ("id", "user", "database", "state", "duration", "wait", "blocked by", "query"):
        # One line per session, as in a terminal top: the query is cut, never wrapped, and
        # it is the column that gives way when the terminal is narrow.
        table.add_column(column, no_wrap=True, overflow="ellipsis", min_width=widths.get(column, 5))
    for s in shown:
        marker = " (dbtop)" if s.is_self else ""
        table.add_row(
            text(s.id + marker),
            text(s.user, 16),
            text(s.database, 16),
            text(f"hidden: {s.hidden}" if s.hidden else s.state, 22),
            human_seconds(s.duration_s),
            text(s.wait, 24),
            text(",".join(s.blocked_by), 20),
            text(s.query, QUERY_WIDTH),
            style=_session_style(s, forest),
        )
    return table


#: the orders of the CLI's statements table (``--statements-by``)
STATEMENT_ORDERS = ("rate", "total")


def statements_table(snapshot: Snapshot, limit: int = 15, *, by: str = "rate") -> Table:
    """The costliest statements, ``by`` "rate" (ms/s over the interval between the two
    polls: what costs now) or "total" (time since the statistics were reset: a 45 s
    report run once an hour ranks where it belongs). Without rates (one poll), by total."""
    rates = snapshot.rates.statements if snapshot.rates else {}
    if by not in STATEMENT_ORDERS:
        raise ValueError(f"unknown statement order {by!r}")
    if by == "rate" and not snapshot.rates:
        by = "total"

    def weight(stmt: Statement) -> tuple[float, float]:
        rate = rates.get(stmt.id)
        now = rate.total_ms_s if rate else 0.0
        return (now, stmt.total_ms) if by == "rate" else (stmt.total_ms, now)

    top = sorted(snapshot.statements, key=weight, reverse=True)[:limit]
    label = snapshot.capabilities.labels.statements
    if by == "rate":
        interval = snapshot.rates.interval_s if snapshot.rates else 0.0
        order = (
            f"by time now (ms/s over the last {interval:.1f}s; "
            "--statements-by total: since the statistics reset)"
        )
    else:
        order = "by total time since the statistics reset (--statements-by rate: now)"
    table = Table(
        title=f"{label}: top {len(top)} of {len(snapshot.statements)} {order}",
        title_justify="left",
        show_edge=False,
    )
    for column in ("calls/s", "ms/s", "calls", "total", "mean", "rows", "query"):
        table.add_column(
            column,
            justify="left" if column == "query" else "right",
            no_wrap=True,
            overflow="ellipsis",
        )
    for stmt in top:
        rate = rates.get(stmt.id)
        table.add_row(
            _num(rate.calls_s) if rate else "-",
            _num(rate.total_ms_s) if rate else "-",
            _num(stmt.calls),
            human_seconds(stmt.total_ms / 1000),
            f"{stmt.mean_ms:,.2f}ms" if stmt.mean_ms is not None else "-",
            _num(stmt.rows),
            text(stmt.query, QUERY_WIDTH),
        )
    return table


def findings_table(snapshot: Snapshot) -> Table | None:
    if not snapshot.findings:
        return None
    table = Table(title="Findings", title_justify="left", show_edge=False)
    for column in ("kind", "object", "finding", "fix"):
        table.add_column(column)
    for finding in snapshot.findings:
        table.add_row(
            text(finding.kind),
            text(finding.object, 40),
            text(finding.message + (f" ({finding.warning})" if finding.warning else ""), 70),
            text(finding.statement, 70),
        )
    return table


def indexes_table(snapshot: Snapshot, limit: int = 15) -> Table:
    label = snapshot.capabilities.labels.indexes
    rates = snapshot.rates.indexes if snapshot.rates else {}
    ordered = sorted(snapshot.indexes, key=lambda i: -(i.size_bytes or 0))[:limit]
    table = Table(
        title=f"{label}: {len(snapshot.indexes)} (largest {len(ordered)})",
        title_justify="left",
        show_edge=False,
    )
    for column in ("index", "table", "scans", "scans/s", "size", "flags"):
        table.add_column(
            column, justify="right" if column in ("scans", "scans/s", "size") else "left"
        )
    for index in ordered:
        flags = [
            flag
            for flag, on in (
                ("unused", index.unused),
                (f"duplicate of {index.duplicate_of}", index.duplicate_of),
                ("INVALID", not index.valid),
            )
            if on
        ]
        rate = rates.get(index.key)
        table.add_row(
            text(index.name, 40),
            text(f"{index.schema}.{index.table}" if index.schema else index.table, 40),
            _num(index.scans),
            _num(rate) if rate is not None else "-",
            human_bytes(index.size_bytes),
            text(", ".join(flags)),
        )
    return table


def slow_events_table(snapshot: Snapshot, limit: int = 10) -> Table:
    """Single logged slow executions (Redis SLOWLOG, MySQL slow log, MongoDB profiler)."""
    events = sorted(snapshot.slow_events, key=lambda e: -e.duration_ms)[:limit]
    table = Table(
        title=f"Slow executions: {len(snapshot.slow_events)} (longest {len(events)})",
        title_justify="left",
        show_edge=False,
    )
    for column in ("duration", "at", "client", "query"):
        table.add_column(
            column,
            justify="right" if column == "duration" else "left",
            no_wrap=True,
            overflow="ellipsis",
        )
    for event in events:
        table.add_row(
            human_seconds(event.duration_ms / 1000),
            event.at.strftime("%H:%M:%S") if event.at else "-",
            text(event.client, 24),
            text(event.query, QUERY_WIDTH),
        )
    return table


def keyspace_table(snapshot: Snapshot, limit: int = 15) -> Table:
    """Key patterns from a bounded sample (Redis), biggest memory first."""
    patterns = sorted(snapshot.keyspace, key=lambda k: -(k.memory_bytes or 0))[:limit]
    table = Table(
        title=f"{snapshot.capabilities.labels.indexes}: {len(snapshot.keyspace)} key patterns",
        title_justify="left",
        show_edge=False,
    )
    for column in ("pattern", "db", "type", "keys", "memory", "no TTL", "biggest key"):
        table.add_column(
            column,
            justify="right" if column in ("keys", "memory", "no TTL") else "left",
            no_wrap=True,
            overflow="ellipsis",
        )
    for k in patterns:
        table.add_row(
            text(k.pattern, 40),
            text(k.database),
            text(k.type),
            _num(k.estimated_keys if k.estimated_keys is not None else k.sampled_keys)
            + margin_suffix(k.extra.get("keys_margin")),
            human_bytes(k.memory_bytes) + margin_suffix_bytes(k.extra.get("memory_margin_bytes")),
            f"{k.no_ttl_share:.0%}" if k.no_ttl_share is not None else "-",
            text(k.biggest_key, 40),
        )
    return table


def lock_tree(snapshot: Snapshot, forest: LockForest) -> RenderableType:
    label = snapshot.capabilities.labels.locks
    if not forest.roots:
        return Text(f"{label}: nobody is waiting")
    by_id = {s.id: s for s in snapshot.sessions}
    tree = Tree(Text(f"{label}: {len(forest.waiter_ids)} waiting", style="bold"))

    def describe(node: LockNode) -> Text:
        session = by_id.get(node.session_id)
        group = no_holder(node.children[0].wait) if node.depth == 0 and node.children else ""
        line = Text(node.session_id, style="bold red" if node.depth == 0 and not group else "")
        if group:
            # a Redis wait for data: no session holds what these clients want
            line.append(f"  not a session: {len(node.children)} {group}, keys unknown")
        elif node.depth == 0:
            direct, total = forest.frees(node.session_id)
            line.append(f"  root blocker: frees {total}, {direct} directly")
        if node.wait is not None:
            wait = node.wait
            line.append("  waits ")
            line.append(one_line(" ".join(p for p in (wait.mode, wait.lock_type) if p)))
            if wait.object:
                line.append(" on ")
                line.append(one_line(wait.object, 40))
            if wait.wait_s is not None:
                line.append(f" for {human_seconds(wait.wait_s)}")
            if marker := inferred_marker(wait):
                line.append(f"  {one_line(marker, 80)}", style="italic")
            if node.queued_behind:
                ahead = len(node.queued_behind)
                line.append(f"  #{node.queue_position} in queue ({ahead} queued ahead)")
        if node.in_cycle:
            line.append("  (deadlock ring)", style="bold")
        if session is not None:
            who = "@".join(p for p in (session.user, session.database) if p)
            line.append(f"  {one_line(who)}  ")
            line.append(one_line(session.query, 50))
        return line

    def add(branch: Tree, node: LockNode) -> None:
        child_branch = branch.add(describe(node))
        for child in node.children:
            add(child_branch, child)

    for root in forest.roots:
        add(tree, root)
    return tree


def notices(items: Iterable[Notice]) -> RenderableType | None:
    lines = [
        Text(f"! {one_line(n.message)}" + (f" — {one_line(n.hint)}" if n.hint else ""))
        for n in items
    ]
    return Group(*lines) if lines else None


def snapshot_report(
    snapshot: Snapshot, *, include_idle: bool = False, statements_by: str = "rate"
) -> list[RenderableType]:
    forest = build_lock_forest(snapshot.lock_waits)
    parts: list[RenderableType | None] = [
        summary(snapshot),
        notices((*snapshot.capabilities.notices, *snapshot.notices)),
        sessions_table(snapshot, forest, include_idle=include_idle),
        lock_tree(snapshot, forest),
        statements_table(snapshot, by=statements_by) if snapshot.statements else None,
        slow_events_table(snapshot) if snapshot.slow_events else None,
        indexes_table(snapshot) if snapshot.indexes else None,
        keyspace_table(snapshot) if snapshot.keyspace else None,
        findings_table(snapshot),
    ]
    return [p for p in parts if p is not None]


def plan_tree(plan: Plan) -> RenderableType:
    costliest = costliest_node(plan.root)

    def describe(node: PlanNode) -> Text:
        line = Text(one_line(node.name), style="bold red" if node is costliest else "bold")
        if node.detail:
            line.append("  ")
            line.append(one_line(node.detail, 80))
        figures = plan_figures(node)
        if figures:
            line.append("  (" + ", ".join(figures) + ")", style="dim")
        return line

    def add(branch: Tree, node: PlanNode) -> None:
        child = branch.add(describe(node))
        for sub in node.children:
            add(child, sub)

    # How it ran (rolled back, read-only …) is the engine's to say, in the notes.
    title = "Plan" + (" (analyzed)" if plan.analyzed else "")
    title += " (generic plan)" if plan.generic else ""
    tree = Tree(Text(title, style="bold"))
    add(tree, plan.root)
    parts: list[RenderableType] = [Text(literal(plan.query)), tree]
    parts.extend(Text(f"note: {one_line(note)}") for note in plan.notes)
    return Group(*parts)
