"""Slow queries: what costs the server time, now (per second over the last interval) and
since the statistics were reset (totals).

Engines with per-statement statistics fill ``snapshot.statements``; engines with a log of
single slow executions (MySQL's slow log, Redis SLOWLOG, MongoDB's profiler) fill
``snapshot.slow_events``; either table hides when its engine has nothing for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from operator import attrgetter
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.widgets import Static

from dbtop.model import Feature, PaneLabels, SlowEvent, Statement, StatementRate
from dbtop.poller import PollResult
from dbtop.safetext import one_line
from dbtop.ui.cells import cell
from dbtop.ui.format import clock, count, human_ms, rate
from dbtop.ui.panes.base import Pane, Selection, ViewOptions
from dbtop.ui.widgets.rowtable import Column, Row, RowTable

QUERY_CELL = 400
#: the statement counters the "examined/s" column shows, the first one present winning
#: (MySQL's rows examined, MongoDB's documents examined): reading far more than returning
#: is what a missing index looks like
EXAMINED_COUNTERS = ("rows_examined", "docs_examined")

STATEMENT_COLUMNS = (
    Column("time_s", "ms/s", 8, align="right"),
    Column("calls_s", "calls/s", 8, align="right"),
    # outlives rows when narrow: examined far above returned is the missing index
    Column("examined_s", "examined/s", 11, align="right", optional=1),
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


def examined_counter(statements: Iterable[Statement]) -> str | None:
    """The counter of the "examined/s" column, or None (the column hides) when the
    statements carry none of EXAMINED_COUNTERS."""
    present = {name for s in statements for name in s.counters}
    return next((name for name in EXAMINED_COUNTERS if name in present), None)


def examined_rate(now: StatementRate | None, counter: str | None) -> float | None:
    if now is None or counter is None:
        return None
    return now.counters.get(counter)


def statement_row(
    statement: Statement, now: StatementRate | None, examined: str | None = None
) -> Row:
    mean = statement.mean_ms
    if mean is None and statement.calls:
        mean = statement.total_ms / statement.calls
    examined_s = examined_rate(now, examined)
    cells = (
        rate(now.total_ms_s) if now else "",
        rate(now.calls_s) if now else "",
        rate(examined_s) if examined_s is not None else "",
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
            examined_s,
            now.mean_ms if now else None,
            statement.calls,
            statement.total_ms,
            mean,
            statement.rows,
            cells[8],
            cells[9],
            cells[10],
        ),
        kind="long" if busy else "",
    )


def statement_sort_getter(
    index: int, rates: Mapping[str, StatementRate], examined: str | None = None
) -> Callable[[Statement], Any]:
    if index == 0:
        return lambda s: r.total_ms_s if (r := rates.get(s.id)) else None
    if index == 1:
        return lambda s: r.calls_s if (r := rates.get(s.id)) else None
    if index == 2:
        return lambda s: examined_rate(rates.get(s.id), examined)
    if index == 3:
        return lambda s: r.mean_ms if (r := rates.get(s.id)) else None
    if index == 4:
        return attrgetter("calls")
    if index == 5:
        return attrgetter("total_ms")
    if index == 7:
        return attrgetter("rows")
    return lambda s: statement_row(s, rates.get(s.id), examined).sort[index]


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
    features: ClassVar[frozenset[Feature]] = frozenset({Feature.STATEMENTS, Feature.PROFILER})

    def __init__(self) -> None:
        super().__init__()
        self._events: dict[str, SlowEvent] = {}
        #: the slow events the events table was last filled from
        self._events_from: tuple[SlowEvent, ...] | None = None

    @classmethod
    def default_label(cls, labels: PaneLabels) -> str:
        return labels.statements

    def compose_tables(self) -> ComposeResult:
        statements = RowTable(
            STATEMENT_COLUMNS,
            sort_column="total",
            empty_message="no statement statistics yet",
            noun="statements",
            id="statements-table",
        )
        statements.set_hidden_columns(("examined_s",))  # until a snapshot carries it
        yield statements
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
        examined = examined_counter(snapshot.statements)
        statements.set_hidden_columns(() if examined else ("examined_s",))
        statements.set_items(
            {statement_key(s): s for s in snapshot.statements},
            lambda s: statement_row(s, rates.get(s.id), examined),
            lambda index: statement_sort_getter(index, rates, examined),
        )
        if snapshot.slow_events is not self._events_from:
            # a slow log read again is often the very tuple of the last poll (Redis hands
            # it on): its rows, up to 128 a node, are not made again
            self._events_from = snapshot.slow_events
            self._events = {event_key(e): e for e in snapshot.slow_events}
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
