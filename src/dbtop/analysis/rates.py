"""Per-second rates from the difference of two snapshots of cumulative counters.

Counters only grow until someone resets them (pg_stat_statements_reset, a restart, FLUSH
STATUS, CONFIG RESETSTAT). A counter that went backwards is a reset: its rate over that
interval is unknown, so it is left out rather than shown as a negative or a spike, and
``Rates.reset`` tells the UI to say so.

Some servers publish their counters in steps. PostgreSQL's backends flush their statistics
(pg_stat_database's xact_commit, pg_stat_user_tables, …) at most once per
PGSTAT_MIN_INTERVAL (1 s since PostgreSQL 15, 500 ms before): differencing two polls 0.5 s
apart shows 0, then twice the rate, then 0. An engine that knows the step states it in
``server.extra["stats_flush_s"]``; :class:`RateWindow` then differences each poll against the
newest earlier one at least ``FLUSH_PERIODS`` flush periods old. Over a window of ``W``
seconds a step of ``P`` seconds leaves at most one flush's worth, ``P / W`` of the rate,
in or out, and a backend now and then skips a flush (its no-wait flush met a reader) and
publishes two at the next: 3 flush periods keep a steady load's figure within about ±1/3
(never 0, never double), and ``Rates.interval_s`` says the window the figure is over.
(A backend that touches no table publishes its commit counts only when it next does, or
at its 10 s idle flush: a load of bare ``SELECT 1`` shows as nearly idle on any window.)
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Mapping

from dbtop.model import (
    IndexStat,
    Rates,
    Snapshot,
    Statement,
    StatementRate,
    TableStat,
    frozen,
)

#: Smallest interval worth dividing by; two polls closer than this give no rates.
MIN_INTERVAL_S = 0.05

_TABLE_COUNTERS = ("seq_scans", "index_scans", "seq_rows_read")

#: ``server.extra`` key: seconds between the server's publications of its counters.
FLUSH_KEY = "stats_flush_s"
#: A rate is taken over at least this many flush periods.
FLUSH_PERIODS = 3.0


def _delta(before: float | None, after: float | None) -> float | None:
    """after - before, or None when either is unknown or the counter went backwards."""
    if before is None or after is None:
        return None
    diff = after - before
    return diff if diff >= 0 else None


def _server_rates(prev: Snapshot, cur: Snapshot, interval: float) -> tuple[dict[str, float], bool]:
    rates: dict[str, float] = {}
    reset = False
    before = prev.server.counters
    for name, value in cur.server.counters.items():
        diff = _delta(before.get(name), value)
        if diff is None:
            reset = reset or name in before
            continue
        rates[name] = diff / interval
    # The ratio over the interval says more during an incident than the one since start-up.
    hits, reads = rates.get("blks_hit"), rates.get("blks_read")
    if hits is not None and reads is not None and hits + reads > 0:
        rates["cache_hit_ratio"] = hits / (hits + reads)
    return rates, reset


def _statement_rate(before: Statement, after: Statement, interval: float) -> StatementRate | None:
    calls = _delta(before.calls, after.calls)
    total = _delta(before.total_ms, after.total_ms)
    if calls is None or total is None:
        return None
    rows = _delta(before.rows, after.rows)
    counters = {}
    for name, value in after.counters.items():
        diff = _delta(before.counters.get(name), value)
        if diff is not None:
            counters[name] = diff / interval
    return StatementRate(
        calls_s=calls / interval,
        total_ms_s=total / interval,
        rows_s=None if rows is None else rows / interval,
        mean_ms=total / calls if calls else None,
        counters=frozen(counters),
    )


def _statement_rates(
    prev: Snapshot, cur: Snapshot, interval: float
) -> tuple[dict[str, StatementRate], bool]:
    before = {s.id: s for s in prev.statements}
    rates: dict[str, StatementRate] = {}
    reset = False
    for stmt in cur.statements:
        old = before.get(stmt.id)
        if old is None:
            # New since the last poll: everything it has was done within the interval only
            # if the statement table was reset; otherwise its history is unknown. Counting
            # from zero would show a burst that never happened, so it waits a poll.
            continue
        rate = _statement_rate(old, stmt, interval)
        if rate is None:
            reset = True
            continue
        rates[stmt.id] = rate
    return rates, reset


def _index_rates(prev: Snapshot, cur: Snapshot, interval: float) -> dict[str, float]:
    before: dict[str, IndexStat] = {i.key: i for i in prev.indexes}
    rates: dict[str, float] = {}
    for index in cur.indexes:
        old = before.get(index.key)
        diff = _delta(old.scans, index.scans) if old else None
        if diff is not None:
            rates[index.key] = diff / interval
    return rates


def _table_rates(prev: Snapshot, cur: Snapshot, interval: float) -> dict[str, Mapping[str, float]]:
    before: dict[str, TableStat] = {t.key: t for t in prev.tables}
    rates: dict[str, Mapping[str, float]] = {}
    for table in cur.tables:
        old = before.get(table.key)
        if old is None:
            continue
        per_table: dict[str, float] = {}
        for name in _TABLE_COUNTERS:
            diff = _delta(getattr(old, name), getattr(table, name))
            if diff is not None:
                per_table[name] = diff / interval
        if per_table:
            rates[table.key] = frozen(per_table)
    return rates


def compute_rates(previous: Snapshot | None, current: Snapshot) -> Rates | None:
    """Rates over the interval between two snapshots of the same server, or None.

    None when there is no previous snapshot, it comes from another engine, or the two are
    too close in time to divide by.
    """
    if previous is None or previous.engine != current.engine:
        return None
    interval = current.monotonic - previous.monotonic
    if interval < MIN_INTERVAL_S:
        return None
    server, server_reset = _server_rates(previous, current, interval)
    statements, statements_reset = _statement_rates(previous, current, interval)
    return Rates(
        interval_s=interval,
        server=frozen(server),
        statements=frozen(statements),
        indexes=frozen(_index_rates(previous, current, interval)),
        tables=frozen(_table_rates(previous, current, interval)),
        reset=server_reset or statements_reset,
    )


def with_rates(previous: Snapshot | None, current: Snapshot) -> Snapshot:
    """``current`` with its ``rates`` filled in from ``previous`` (unchanged if none)."""
    rates = compute_rates(previous, current)
    return current if rates is None else dataclasses.replace(current, rates=rates)


def rate_window_s(snapshot: Snapshot) -> float:
    """The shortest span rates of this server may be taken over (0: any)."""
    flush = snapshot.server.extra.get(FLUSH_KEY)
    return FLUSH_PERIODS * float(flush) if isinstance(flush, int | float) and flush > 0 else 0.0


class RateWindow:
    """The recent snapshots of one server, to difference each new one against the newest
    one old enough (see the module doc). Pure bookkeeping: it keeps only what a future
    baseline can still be, so at most about ``window / poll interval`` snapshots."""

    def __init__(self) -> None:
        self._history: deque[Snapshot] = deque()

    def baseline(self, current: Snapshot) -> Snapshot | None:
        """The snapshot ``current`` is differenced against, or None (none old enough)."""
        if self._history and self._history[-1].engine != current.engine:
            self._history.clear()
        window = rate_window_s(current)
        chosen: Snapshot | None = None
        for earlier in self._history:
            if current.monotonic - earlier.monotonic >= window:
                chosen = earlier  # the newest one old enough wins (history is in order)
        return chosen

    def advance(self, current: Snapshot) -> Snapshot:
        """``current`` with rates over the window, remembered as a future baseline."""
        previous = self.baseline(current)
        result = with_rates(previous, current)
        self._history.append(result)
        # Drop what can never be a baseline again: everything older than the newest
        # snapshot that is already old enough for the next poll.
        window = rate_window_s(current)
        while len(self._history) > 1 and (current.monotonic - self._history[1].monotonic >= window):
            self._history.popleft()
        return result
