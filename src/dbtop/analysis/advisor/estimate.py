"""A what-if cost model for engines (or servers) without hypothetical indexes.

Rows touched stand in for cost: a sequential scan reads every row; an index reads
``log2(rows)`` to descend, then the rows its leading columns narrow the scan to, each with a
random heap fetch unless the index covers the statement. Lookup columns narrow by their
planner selectivity, an IN list by a few values' worth, one range column by a third (the
planner's default for an unknown bound), and ORDER BY … LIMIT read in index order stops
after enough rows to fill the limit. It ranks candidates; it does not predict time, which is
why suggestions it backs are marked unverified.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from dbtop.analysis.advisor.candidates import Candidate, eq_fraction
from dbtop.analysis.advisor.workload import (
    ExistingIndex,
    QueryInfo,
    TableAccess,
    TableFacts,
    Workload,
)

#: rows a LIMIT is taken to need when its value is a parameter
LIMIT_ROWS = 50.0
#: values an IN list is taken to hold
IN_VALUES = 3.0
#: the planner's default selectivity of an inequality with an unknown bound
RANGE_FRACTION = 1.0 / 3.0
#: a random heap fetch costs this many sequential row reads
RANDOM_FETCH = 4.0
#: share of rows a constant predicate (IS NULL, a boolean) is taken to keep
CONSTANT_FRACTION = 0.5


def _predicate_fraction(access: TableAccess, facts: TableFacts) -> float:
    fraction = 1.0
    for col in access.lookup_columns:
        fraction *= eq_fraction(facts, col)
    for col in access.in_list:
        fraction *= min(1.0, IN_VALUES * eq_fraction(facts, col))
    for _ in dict.fromkeys(access.range):
        fraction *= RANGE_FRACTION
    for constant in access.constants:
        kept = constant.fraction(facts)
        fraction *= CONSTANT_FRACTION if kept is None else kept
    return fraction


def _index_cost(
    access: TableAccess,
    facts: TableFacts,
    columns: Sequence[str | None],
    descending: Sequence[bool],
    include: Sequence[str],
    where: Sequence[str],
) -> float | None:
    """Rows-touched cost of reading ``access`` through one index, None when it cannot."""
    present = {c.sql for c in access.constants}
    if any(sql not in present for sql in where):
        return None
    rows = max(facts.rows, 1.0)
    lookups = set(access.lookup_columns)
    # ``col IS NULL`` is searched like ``col = value``, keeping the null fraction
    nulls = {
        c.column: kept
        for c in access.null_tests(True)
        if c.column not in lookups and (kept := c.fraction(facts)) is not None
    }
    in_cols = set(access.in_list)
    ranges = set(access.range)
    fraction = 1.0
    used = 0
    for col in columns:
        if col in lookups:
            fraction *= eq_fraction(facts, col)
        elif col in nulls:
            fraction *= nulls[col]
            where = [w for w in where if w != f"{col} IS NULL" and w != f'"{col}" IS NULL']
        elif col in in_cols:
            fraction *= min(1.0, IN_VALUES * eq_fraction(facts, col))
        elif col in ranges:
            fraction *= RANGE_FRACTION
            used += 1
            break
        else:
            break
        used += 1
    if where:
        fraction *= where_fraction(where, facts)
    tail = list(columns[used:])
    tail_desc = list(descending[used:]) if descending else [False] * len(tail)
    ordered = _serves_order(access, tail, tail_desc)
    if used == 0 and not ordered:
        return None
    scanned = rows * fraction
    wanted = rows * _predicate_fraction(access, facts)
    if ordered and access.limit:
        residual = wanted / scanned if scanned > 0 else 1.0
        scanned = min(scanned, LIMIT_ROWS / max(residual, 1e-9))
        fetched = min(wanted, LIMIT_ROWS)
    else:
        fetched = wanted
    needed = access.selected
    stored = {c for c in (*columns, *include) if c is not None}
    covering = needed is not None and all(c in stored for c in needed)
    # Every index entry the scan matches costs a heap fetch unless the index covers.
    heap = 0.0 if covering else RANDOM_FETCH * scanned
    sort = 0.0 if ordered or not access.order_by else _sort_cost(fetched)
    return math.log2(rows + 1) + scanned + heap + sort


def _serves_order(access: TableAccess, tail: Sequence[str | None], desc: Sequence[bool]) -> bool:
    if not access.order_by or len(tail) < len(access.order_by):
        return False
    forward = backward = True
    for key, col, d in zip(access.order_by, tail, desc, strict=False):
        if key.column != col:
            return False
        forward &= key.descending == d
        backward &= key.descending != d
    return forward or backward


def _sort_cost(rows: float) -> float:
    return rows * math.log2(rows + 2) * 0.1


def access_cost(
    access: TableAccess, facts: TableFacts, indexes: Sequence[ExistingIndex | Candidate]
) -> float:
    """The cheapest way to read the access: a sequential scan or one of the indexes."""
    rows = max(facts.rows, 1.0)
    wanted = rows * _predicate_fraction(access, facts)
    best = rows + (_sort_cost(wanted) if access.order_by else 0.0)
    for index in indexes:
        if isinstance(index, ExistingIndex) and (not index.valid or index.method != "btree"):
            continue
        cost = _index_cost(
            access, facts, index.columns, index.descending, index.include, index.where
        )
        if cost is not None:
            best = min(best, cost)
    return best


class HeuristicOracle:
    """A CostOracle from the model above: the sum of each table access's cheapest read."""

    def __init__(self, workload: Workload) -> None:
        self._tables = workload.tables
        self._parents = workload.parents

    async def costs(
        self, indexes: frozenset[Candidate], queries: Sequence[QueryInfo]
    ) -> Mapping[str, float | None]:
        return {q.id: self.cost(q, indexes) for q in queries}

    def cost(self, query: QueryInfo, indexes: frozenset[Candidate]) -> float | None:
        total = 0.0
        counted = False
        for access in query.accesses:
            facts = self._tables.get(access.table)
            if facts is None:
                continue
            # an index on a partitioned root is on each of its partitions too
            on = (access.table, self._parents.get(access.table))
            mine = [c for c in indexes if c.table in on]
            total += access_cost(access, facts, [*facts.indexes, *mine])
            counted = True
        return total if counted else None


#: bytes a btree entry needs besides its columns: the index tuple header and line pointer
ENTRY_OVERHEAD = 12
#: btree leaf pages are filled to 90% by CREATE INDEX
FILL_FACTOR = 0.9
PAGE = 8192


def where_fraction(where: Sequence[str], facts: TableFacts) -> float:
    """Share of the rows a partial index's predicate keeps (IS [NOT] NULL from the column's
    null fraction, anything else the default guess)."""
    fraction = 1.0
    for sql in where:
        for suffix, keep_nulls in ((" IS NULL", True), (" IS NOT NULL", False)):
            if sql.endswith(suffix):
                stats = facts.columns.get(sql[: -len(suffix)].strip('"'))
                if stats is not None:
                    fraction *= stats.null_frac if keep_nulls else 1.0 - stats.null_frac
                    break
        else:
            fraction *= CONSTANT_FRACTION
    return fraction


def estimated_size(cand: Candidate, facts: TableFacts) -> int:
    """Bytes the index would take: entries of the key and INCLUDE columns' average widths,
    for the rows its predicate keeps (what hypopg_relation_size estimates, without hypopg)."""
    width = 0
    for col in (*cand.columns, *cand.include):
        stats = facts.columns.get(col)
        width += stats.avg_width if stats is not None and stats.avg_width else 8
    entry = ENTRY_OVERHEAD + -(-width // 8) * 8  # the tuple is aligned to 8 bytes
    rows = max(facts.rows, 0.0) * where_fraction(cand.where, facts)
    leaf = rows * entry / FILL_FACTOR
    pages = max(math.ceil(leaf / PAGE), 1) + 1  # and the metapage
    return int(pages * PAGE)
