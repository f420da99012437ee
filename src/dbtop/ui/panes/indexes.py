"""Indexes: usage, size and scans per second with badges (unused, duplicate, invalid), the
tables read by sequential scans, and, for key-value engines, the sampled key patterns.

Each of the three tables shows only when its engine fills it (Redis has a keyspace, not
indexes), with a short title when more than one is shown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from operator import attrgetter
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.widgets import Static

from dbtop.humanize import margin_suffix, margin_suffix_bytes
from dbtop.model import Feature, IndexStat, KeyPattern, PaneLabels, TableStat
from dbtop.poller import PollResult
from dbtop.safetext import one_line
from dbtop.ui.format import count, human_bytes, percent, rate
from dbtop.ui.panes.base import Pane, Selection, ViewOptions
from dbtop.ui.widgets.rowtable import Column, Row, RowTable

#: The table outlives the scan rate and the definition when narrow: an index name alone
#: (seven "PRIMARY" rows on MySQL) says nothing without its table.
INDEX_COLUMNS = (
    Column("badges", "badges", 9, descending=True),
    Column("index", "index", 20, descending=False),
    Column("table", "table", 18, optional=3, descending=False),
    Column("scans", "scans", 8, align="right"),
    Column("scans_s", "scans/s", 8, align="right", optional=4),
    Column("size", "size", 8, align="right"),
    Column("definition", "definition", 16, flex=True, optional=5, descending=False),
)

TABLE_COLUMNS = (
    Column("table", "table", 24, descending=False),
    Column("seq_scans", "seq scans", 9, align="right"),
    Column("seq_s", "seq/s", 7, align="right"),
    Column("seq_rows", "rows read", 10, align="right"),
    Column("seq_rows_s", "read/s", 9, align="right", optional=2),
    Column("index_scans", "idx scans", 9, align="right", optional=3),
    Column("seq_share", "seq %", 6, align="right"),
    Column("live_rows", "rows", 9, align="right", optional=4),
    Column("size", "size", 9, align="right", optional=1),
)

KEY_COLUMNS = (
    Column("pattern", "pattern", 24, flex=True, descending=False),
    Column("database", "db", 4, descending=False),
    Column("type", "type", 7, descending=False),
    Column("keys", "keys", 13, align="right"),  # with its ± margin
    Column("memory", "memory", 15, align="right"),
    Column("no_ttl", "no TTL", 7, align="right"),
    Column("biggest", "biggest key", 20, optional=2, descending=False),
    Column("biggest_size", "its size", 9, align="right", optional=1),
)


def index_badges(index: IndexStat) -> tuple[str, str]:
    """The badge text and its kind (how loud it is)."""
    if not index.valid:
        return "INVALID", "alarm"
    if index.duplicate_of:
        return "duplicate", "warning"
    if index.unused:
        return "unused", "warning"
    if index.is_primary:
        return "primary", "muted"
    if index.is_unique:
        return "unique", "muted"
    return "", ""


_BADGE_RANK = {"INVALID": 4, "duplicate": 3, "unused": 2, "primary": 1, "unique": 1, "": 0}


def index_row(index: IndexStat, scans_s: float | None) -> Row:
    badge, badge_kind = index_badges(index)
    table = f"{index.schema}.{index.table}" if index.schema else index.table
    definition = index.definition or ", ".join(index.columns)
    if index.duplicate_of:
        definition = f"same as {index.duplicate_of}: {definition}"
    cells = (
        badge,
        one_line(index.name),
        one_line(table),
        count(index.scans),
        rate(scans_s),
        human_bytes(index.size_bytes),
        one_line(definition, 300),
    )
    return Row(
        key=index.key,
        cells=cells,
        sort=(
            _BADGE_RANK[badge],
            cells[1],
            cells[2],
            index.scans,
            scans_s,
            index.size_bytes,
            cells[6],
        ),
        cell_kinds=(badge_kind,),
    )


def index_sort_getter(n: int, rates: Mapping[str, float]) -> Callable[[IndexStat], Any]:
    getters: dict[int, Callable[[IndexStat], Any]] = {
        0: lambda i: _BADGE_RANK[index_badges(i)[0]],
        3: attrgetter("scans"),
        4: lambda i: rates.get(i.key),
        5: attrgetter("size_bytes"),
    }
    return getters.get(n) or (lambda i: index_row(i, rates.get(i.key)).sort[n])


def table_sort_getter(
    n: int, rates: Mapping[str, Mapping[str, float]]
) -> Callable[[TableStat], Any]:
    getters: dict[int, Callable[[TableStat], Any]] = {
        1: attrgetter("seq_scans"),
        3: attrgetter("seq_rows_read"),
        5: attrgetter("index_scans"),
        7: attrgetter("live_rows"),
        8: attrgetter("size_bytes"),
    }
    return getters.get(n) or (lambda t: table_row(t, dict(rates.get(t.key, {}))).sort[n])


def table_row(table: TableStat, rates: dict[str, float]) -> Row:
    share = table.seq_scan_share
    cells = (
        one_line(table.key),
        count(table.seq_scans),
        rate(rates.get("seq_scans")),
        count(table.seq_rows_read),
        rate(rates.get("seq_rows_read")),
        count(table.index_scans),
        percent(share, 0),
        count(table.live_rows),
        human_bytes(table.size_bytes),
    )
    heavy = share is not None and share > 0.5 and (table.live_rows or 0) >= 10_000
    return Row(
        key=table.key,
        cells=cells,
        sort=(
            cells[0],
            table.seq_scans,
            rates.get("seq_scans"),
            table.seq_rows_read,
            rates.get("seq_rows_read"),
            table.index_scans,
            share,
            table.live_rows,
            table.size_bytes,
        ),
        kind="warning" if heavy else "",
    )


def key_pattern_key(pattern: KeyPattern) -> str:
    return "/".join(p for p in (pattern.node, pattern.database, pattern.pattern) if p)


def key_pattern_row(pattern: KeyPattern) -> Row:
    keys = pattern.estimated_keys if pattern.estimated_keys is not None else pattern.sampled_keys
    cells = (
        one_line(pattern.pattern),
        one_line(pattern.database),
        one_line(pattern.type),
        # sampled estimates carry their 95 % margin (engines/redis/keyspace_estimate.py)
        count(keys) + margin_suffix(pattern.extra.get("keys_margin")),
        human_bytes(pattern.memory_bytes)
        + margin_suffix_bytes(pattern.extra.get("memory_margin_bytes")),
        percent(pattern.no_ttl_share, 0),
        one_line(pattern.biggest_key),
        human_bytes(pattern.biggest_key_bytes),
    )
    return Row(
        key=key_pattern_key(pattern),
        cells=cells,
        sort=(
            cells[0],
            cells[1],
            cells[2],
            keys,
            pattern.memory_bytes,
            pattern.no_ttl_share,
            cells[6],
            pattern.biggest_key_bytes,
        ),
    )


class IndexesPane(Pane):
    pane_id: ClassVar[str] = "indexes"
    number: ClassVar[int] = 3
    #: hypopg's absence is said here, beside the indexes it would check, not as a header
    #: row kept for the whole session (a row of 24 at 80x24)
    features: ClassVar[frozenset[Feature]] = frozenset(
        {Feature.INDEXES, Feature.HYPOTHETICAL_INDEXES}
    )

    def __init__(self) -> None:
        super().__init__()
        self._indexes: dict[str, IndexStat] = {}
        self._tables: dict[str, TableStat] = {}
        self._patterns: dict[str, KeyPattern] = {}
        #: the key patterns the keys table was last filled from
        self._patterns_from: tuple[KeyPattern, ...] | None = None

    @classmethod
    def default_label(cls, labels: PaneLabels) -> str:
        return labels.indexes

    def compose_tables(self) -> ComposeResult:
        yield RowTable(
            INDEX_COLUMNS,
            sort_column="size",
            empty_message="no index",
            noun="indexes",
            id="indexes-table",
        )
        yield Static("Tables read by sequential scans", classes="section-title", id="tables-title")
        yield RowTable(
            TABLE_COLUMNS,
            sort_column="seq_rows",
            empty_message="no table is read by sequential scans",
            noun="seq-scanned tables",
            id="tables-table",
        )
        yield Static("Key patterns (sampled)", classes="section-title", id="keys-title")
        yield RowTable(
            KEY_COLUMNS,
            sort_column="memory",
            empty_message="no key sampled",
            noun="key patterns",
            id="keys-table",
        )

    def update(self, result: PollResult, view: ViewOptions) -> None:
        snapshot = result.snapshot
        scope = snapshot.capabilities.extra.get("indexes_of")
        if isinstance(scope, str) and scope:
            # The engine reads one database's indexes (PostgreSQL: the connected one).
            self._pane_label = f"{self.label} · database {one_line(scope, 40)} only"
        rates = snapshot.rates
        index_rates = rates.indexes if rates else {}
        table_rates = rates.tables if rates else {}
        self._indexes = {i.key: i for i in snapshot.indexes}
        scanned = [t for t in snapshot.tables if t.seq_scans]
        self._tables = {t.key: t for t in scanned}
        indexes = self.query_one("#indexes-table", RowTable)
        tables = self.query_one("#tables-table", RowTable)
        keys = self.query_one("#keys-table", RowTable)
        indexes.set_items(
            self._indexes,
            lambda i: index_row(i, index_rates.get(i.key)),
            lambda n: index_sort_getter(n, index_rates),
        )
        tables.set_items(
            self._tables,
            lambda t: table_row(t, dict(table_rates.get(t.key, {}))),
            lambda n: table_sort_getter(n, table_rates),
        )
        if snapshot.keyspace is not self._patterns_from:
            # the very patterns of the last poll (Redis hands them on between two samples)
            # are not formatted again
            self._patterns_from = snapshot.keyspace
            self._patterns = {key_pattern_key(p): p for p in snapshot.keyspace}
            keys.set_rows(key_pattern_row(p) for p in snapshot.keyspace)
        has_keys = bool(snapshot.keyspace)
        indexes.display = bool(snapshot.indexes) or not has_keys
        tables.display = bool(scanned)
        keys.display = has_keys
        self.query_one("#tables-title", Static).display = tables.display
        self.query_one("#keys-title", Static).display = has_keys and (
            indexes.display or tables.display
        )
        self.refresh_counts()

    def selection(self) -> Selection | None:
        table = self.active_table
        key = table.cursor_key if table is not None else None
        if table is None or key is None:
            return None
        if table.id == "keys-table":
            pattern = self._patterns.get(key)
            if pattern is None:
                return None
            # Explaining a key pattern means the anatomy of its biggest key (Redis).
            return Selection(
                "key_pattern",
                f"Key pattern {pattern.pattern}",
                pattern,
                query=pattern.biggest_key or pattern.pattern,
            )
        if table.id == "tables-table":
            stat = self._tables.get(key)
            return Selection("table", f"Table {stat.key}", stat) if stat else None
        index = self._indexes.get(key)
        return Selection("index", f"Index {index.key}", index) if index else None
