"""Slow queries: what costs the server time, now (per second over the last interval) and
since the statistics were reset (totals).

Engines with per-statement statistics fill ``snapshot.statements``; engines with a log of
single slow executions (MySQL's slow log, Redis SLOWLOG, MongoDB's profiler) fill
``snapshot.slow_events``; either table hides when its engine has nothing for it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from operator import attrgetter
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.widgets import Static

from dbtop.model import PaneLabels, SlowEvent, Statement, StatementRate
from dbtop.poller import PollResult
from dbtop.safetext import one_line
from dbtop.ui.cells import cell
from dbtop.ui.format import clock, count, human_ms, rate
from dbtop.ui.panes.base import Pane, Selection, ViewOptions
from dbtop.ui.widgets.rowtable import Column, Row, RowTable

QUERY_CELL = 400

STATEMENT_COLUMNS = (
    Column("time_s", "ms/s", 8, align="right"),
    Column("calls_s", "calls/s", 8, align="right"),
    Column("mean_now", "ms/call", 9, align="right", optional=3),
    Column("calls", "calls", 9, align="right"),
    Column("total", "total", 9, align="right"),
    Column("mean", "mean", 9, align="right"),
    Column("rows", "rows", 9, align="right", optional=2),
    Column("user", "user", 10, optional=5, descending=False),
    Column("database", "database", 10, optional=6, descending=False),
    Column("query", "query", 20, flex=True, descending=False),
)

EVENT_COLUMNS = (
    Column("at", "at", 8, descending=True),
    Column("duration", "duration", 9, align="right"),
    Column("client", "client", 18, optional=3, descending=False),
    Column("user", "user", 10, optional=2, descending=False),
    Column("database", "database", 10, optional=4, descending=False),
    Column("query", "query", 20, flex=True, descending=False),
)


def statement_key(statement: Statement) -> str:
    return f"{statement.node}/{statement.id}" if statement.node else statement.id


def statement_row(statement: Statement, now: StatementRate | None) -> Row:
    mean = statement.mean_ms
    if mean is None and statement.calls:
        mean = statement.total_ms / statement.calls
    cells = (
        rate(now.total_ms_s) if now else "",
        rate(now.calls_s) if now else "",
        human_ms(now.mean_ms) if now and now.mean_ms is not None else "",
        count(statement.calls),
        human_ms(statement.total_ms),
        human_ms(mean),
        count(statement.rows),
        cell(statement.user),
        cell(statement.database),
        cell(statement.query, QUERY_CELL),
    )
    busy = now is not None and now.total_ms_s >= 100  # a tenth of a core or more, right now
    return Row(
        key=statement_key(statement),
        cells=cells,
        sort=(
            now.total_ms_s if now else None,
            now.calls_s if now else None,
            now.mean_ms if now else None,
            statement.calls,
            statement.total_ms,
            mean,
            statement.rows,
            cells[7],
            cells[8],
            cells[9],
        ),
        kind="long" if busy else "",
    )


def statement_sort_getter(
    index: int, rates: Mapping[str, StatementRate]
) -> Callable[[Statement], Any]:
    if index == 0:
        return lambda s: r.total_ms_s if (r := rates.get(s.id)) else None
    if index == 1:
        return lambda s: r.calls_s if (r := rates.get(s.id)) else None
    if index == 2:
        return lambda s: r.mean_ms if (r := rates.get(s.id)) else None
    if index == 3:
        return attrgetter("calls")
    if index == 4:
        return attrgetter("total_ms")
    if index == 6:
        return attrgetter("rows")
    return lambda s: statement_row(s, rates.get(s.id)).sort[index]


def event_key(event: SlowEvent) -> str:
    return f"{event.node}/{event.id}" if event.node else event.id


def event_row(event: SlowEvent) -> Row:
    cells = (
        clock(event.at),
        human_ms(event.duration_ms),
        one_line(event.client),
        one_line(event.user),
        one_line(event.database),
        one_line(event.query, QUERY_CELL),
    )
    return Row(
        key=event_key(event),
        cells=cells,
        sort=(
            event.at.timestamp() if event.at else None,
            event.duration_ms,
            cells[2],
            cells[3],
            cells[4],
            cells[5],
        ),
    )


class StatementsPane(Pane):
    pane_id: ClassVar[str] = "statements"
    number: ClassVar[int] = 2
    features: ClassVar[frozenset[str]] = frozenset(
        {"statements", "slow_events", "slowlog", "slow_log", "profiler", "statement_stats"}
    )

    def __init__(self) -> None:
        super().__init__()
        self._events: dict[str, SlowEvent] = {}

    def default_label(self, labels: PaneLabels) -> str:
        return labels.statements

    def compose_tables(self) -> ComposeResult:
        yield RowTable(
            STATEMENT_COLUMNS,
            sort_column="total",
            empty_message="no statement statistics yet",
            noun="statements",
            id="statements-table",
        )
        yield Static("Slow executions", classes="section-title", id="events-title")
        yield RowTable(
            EVENT_COLUMNS,
            sort_column="at",
            empty_message="no slow execution",
            noun="slow executions",
            id="events-table",
        )

    def update(self, result: PollResult, view: ViewOptions) -> None:
        snapshot = result.snapshot
        rates = snapshot.rates.statements if snapshot.rates else {}
        statements = self.query_one("#statements-table", RowTable)
        events = self.query_one("#events-table", RowTable)
        self._events = {event_key(e): e for e in snapshot.slow_events}
        statements.set_items(
            {statement_key(s): s for s in snapshot.statements},
            lambda s: statement_row(s, rates.get(s.id)),
            lambda index: statement_sort_getter(index, rates),
        )
        events.set_rows(event_row(e) for e in snapshot.slow_events)
        has_events = bool(snapshot.slow_events)
        # An engine with only a slow log shows only that; one with both shows both.
        statements.display = bool(snapshot.statements) or not has_events
        events.display = has_events
        self.query_one("#events-title", Static).display = has_events and statements.display
        self.refresh_counts()

    def selection(self) -> Selection | None:
        table = self.active_table
        if table is None or table.cursor_key is None:
            return None
        if table.id == "events-table":
            event = self._events.get(table.cursor_key)
            if event is None:
                return None
            title = f"Slow execution: {one_line(event.query, 60)}"
            return Selection("slow_event", title, event, query=event.query)
        statement = table.cursor_item
        if statement is None:
            return None
        title = f"Statement: {one_line(statement.query, 60)}"
        return Selection("statement", title, statement, query=statement.query)
