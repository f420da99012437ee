"""What the advisor is fed: statements as per-table access patterns, and facts about tables.

Every engine translates its own workload into these types (PostgreSQL parses
pg_stat_statements with pglast, MySQL would read sqlglot-parsed digests, MongoDB query
shapes); the candidate generation and the selection never see SQL or a driver.

Column and table names are the engine's own spelling (already case-folded where the engine
folds identifiers); the engine quotes them again when it writes DDL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self

from dbtop.model import EMPTY, Statement, frozen


@dataclass(frozen=True, slots=True, order=True)
class TableRef:
    """A table (collection) by schema (database) and name."""

    schema: str | None
    name: str

    @property
    def key(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name

    def __str__(self) -> str:
        return self.key


@dataclass(frozen=True, slots=True)
class SortKey:
    """One ORDER BY term on a plain column of the table."""

    column: str
    descending: bool = False
    nulls_first: bool | None = None


@dataclass(frozen=True, slots=True)
class Constant:
    """A predicate with no parameter in it (``deleted_at IS NULL``, ``NOT archived``).

    ``sql`` is the predicate as the engine would write it in a partial index's WHERE clause;
    two statements share a constant predicate when their ``sql`` is equal.
    """

    column: str
    sql: str
    #: True for ``col IS NULL``, False for ``col IS NOT NULL`` (a btree can search both,
    #: with the column's null fraction as their selectivity), None for anything else
    null_test: bool | None = None

    def fraction(self, facts: TableFacts) -> float | None:
        """Share of the rows an IS [NOT] NULL test keeps, from the column's null fraction."""
        stats = facts.columns.get(self.column)
        if self.null_test is None or stats is None:
            return None
        return stats.null_frac if self.null_test else 1.0 - stats.null_frac


@dataclass(frozen=True, slots=True)
class TableAccess:
    """How one statement reaches one table (one entry per occurrence: a self-join has two).

    - ``equality``: ``col = value`` where the value is a parameter or a literal;
    - ``range``: ``<``, ``<=``, ``>``, ``>=``, ``BETWEEN``;
    - ``join``: equality with a column of another table (a nested loop can look it up);
    - ``in_list``: ``IN (…)`` / ``= ANY(…)``;
    - ``order_by`` with ``limit``: the sort the statement asks for on this table's columns
      (only when every sort key is a column of this table);
    - ``group_by``: grouping columns of this table;
    - ``constants``: predicates without parameters, candidates for a partial index;
    - ``selected``: every column of this table the statement reads anywhere (select list,
      predicates, sort), or None when it reads them all (``SELECT *``): an index holding them
      all allows an index-only scan.
    """

    table: TableRef
    equality: tuple[str, ...] = ()
    range: tuple[str, ...] = ()
    join: tuple[str, ...] = ()
    in_list: tuple[str, ...] = ()
    order_by: tuple[SortKey, ...] = ()
    limit: bool = False
    group_by: tuple[str, ...] = ()
    constants: tuple[Constant, ...] = ()
    selected: tuple[str, ...] | None = None

    @property
    def lookup_columns(self) -> tuple[str, ...]:
        """Columns compared with a single value per probe: equality, then join columns."""
        seen: dict[str, None] = {}
        for col in (*self.equality, *self.join):
            seen.setdefault(col, None)
        return tuple(seen)

    def null_tests(self, is_null: bool) -> tuple[Constant, ...]:
        """The ``IS NULL`` (or ``IS NOT NULL``) tests on this table's columns."""
        return tuple(c for c in self.constants if c.null_test is is_null)

    @property
    def is_useful(self) -> bool:
        """Whether an index could serve this access at all."""
        return bool(
            self.equality
            or self.range
            or self.join
            or self.in_list
            or self.order_by
            or self.group_by
            or self.constants
        )


@dataclass(frozen=True, slots=True)
class QueryInfo:
    """One normalized statement and the tables it reaches.

    ``calls`` × mean time = ``total_ms``: a statement's weight in the workload is its
    ``total_ms`` over the workload's total.
    """

    id: str
    text: str
    calls: int
    total_ms: float
    accesses: tuple[TableAccess, ...] = ()
    extra: Mapping[str, object] = field(default_factory=lambda: EMPTY)

    @property
    def mean_ms(self) -> float | None:
        return self.total_ms / self.calls if self.calls else None

    @property
    def tables(self) -> frozenset[TableRef]:
        return frozenset(access.table for access in self.accesses)


@dataclass(frozen=True, slots=True)
class WorkItem:
    """One statement of an engine's workload before parsing: its text and what it cost.

    Engines extend it with what they know of the statement (its role, its rows examined)."""

    id: str
    text: str
    calls: int
    total_ms: float
    #: where it was seen: "statements", "digest", "slow_log", "session" …
    source: str

    @classmethod
    def of(cls, stmt: Statement, source: str, **more: Any) -> Self:
        """The item of a statement the engine read (``more``: the subclass's fields)."""
        return cls(
            id=stmt.id,
            text=stmt.query,
            calls=stmt.calls,
            total_ms=stmt.total_ms,
            source=source,
            **more,
        )

    def query(self, accesses: tuple[TableAccess, ...], **extra: Any) -> QueryInfo:
        """The parsed statement the advisor reads (``extra`` after ``source``)."""
        return QueryInfo(
            id=self.id,
            text=self.text,
            calls=self.calls,
            total_ms=self.total_ms,
            accesses=accesses,
            extra=frozen(source=self.source, **extra),
        )


@dataclass(frozen=True, slots=True)
class ColumnFacts:
    """The planner's statistics of one column (PostgreSQL's pg_stats conventions).

    ``n_distinct`` > 0 is a count of distinct values, < 0 a fraction of the rows (-1: all
    distinct), None unknown (never analyzed). ``max_frequency`` is the frequency of the most
    common value when the engine knows it.
    """

    name: str
    n_distinct: float | None = None
    null_frac: float = 0.0
    avg_width: int | None = None
    max_frequency: float | None = None

    def distinct(self, rows: float) -> float | None:
        if self.n_distinct is None or self.n_distinct == 0:
            return None
        if self.n_distinct > 0:
            return self.n_distinct
        return max(-self.n_distinct * rows, 1.0)

    def eq_fraction(self, rows: float) -> float | None:
        """Expected share of rows matching ``col = value`` for an unknown value.

        As the planner does for a parameter: the non-null share spread over the distinct
        values, but never more than the most common value's frequency.
        """
        distinct = self.distinct(rows)
        if distinct is None:
            return None
        fraction = (1.0 - self.null_frac) / distinct
        if self.max_frequency is not None:
            fraction = min(fraction, self.max_frequency)
        return max(min(fraction, 1.0), 0.0)


@dataclass(frozen=True, slots=True)
class ExistingIndex:
    """An index the table already has.

    ``columns`` are its key columns in order, None for an expression; ``where`` the conjuncts
    of its partial predicate (the engine's text, compared with ``Constant.sql``).
    """

    name: str
    table: TableRef
    columns: tuple[str | None, ...]
    include: tuple[str, ...] = ()
    descending: tuple[bool, ...] = ()
    where: tuple[str, ...] = ()
    method: str = "btree"
    valid: bool = True
    unique: bool = False


@dataclass(frozen=True, slots=True)
class TableFacts:
    """Size, column statistics and existing indexes of one table."""

    table: TableRef
    rows: float
    size_bytes: int | None = None
    columns: Mapping[str, ColumnFacts] = field(default_factory=lambda: EMPTY)
    indexes: tuple[ExistingIndex, ...] = ()
    #: a partitioned table's leaf partitions (an index on it is created on each), else 0
    partitions: int = 0


@dataclass(frozen=True, slots=True)
class Workload:
    """The statements to serve and the facts about the tables they reach.

    ``total_ms`` is the time of the whole workload, including statements the engine could not
    turn into a QueryInfo (so shares are shares of the real total); it defaults to the sum.
    """

    queries: tuple[QueryInfo, ...]
    tables: Mapping[TableRef, TableFacts]
    total_ms: float | None = None
    #: a partition's partitioned root: an index on the root serves the partition's
    #: statements too (it is created on every partition)
    parents: Mapping[TableRef, TableRef] = field(default_factory=dict)
    #: the write statements on each table (writes.py), for the cost of keeping an index
    writes: Mapping[TableRef, Any] = field(default_factory=dict)
    #: seconds the statements' counters cover (their calls over it are calls/s)
    period_s: float | None = None

    def reaches(self, query: QueryInfo) -> frozenset[TableRef]:
        """The tables the statement reads, and the partitioned roots of its partitions."""
        tables = query.tables
        roots = {self.parents[t] for t in tables if t in self.parents}
        return tables | roots if roots else tables

    @property
    def total(self) -> float:
        if self.total_ms is not None and self.total_ms > 0:
            return self.total_ms
        return sum(q.total_ms for q in self.queries) or 1.0

    def share(self, query: QueryInfo) -> float:
        """The statement's part of the workload's total time (its weight), 0..1."""
        return query.total_ms / self.total

    def query(self, query_id: str) -> QueryInfo:
        for query in self.queries:
            if query.id == query_id:
                return query
        raise KeyError(query_id)
