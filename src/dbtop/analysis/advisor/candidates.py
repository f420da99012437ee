"""Candidate indexes from the workload's access patterns, and why some are dropped.

For each table a statement reaches, the lookup columns (equality and join) come first, most
selective first, then at most one range column, or the ORDER BY columns when a LIMIT makes
reading in index order pay, or the GROUP BY columns. Prefixes give the shorter candidates, so
a two- or three-column index only wins the selection when the extra columns lower the cost.
A covering variant adds the other columns the statement reads (INCLUDE, or appended key
columns where the engine has no INCLUDE) for an index-only scan, and a partial variant
carries the constant predicates that most of the table's statements share.

Every candidate dropped before verification gets a ``Rejection`` with the reason: tiny
table, not selective, already served by an existing index, over the candidate budget.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace

from dbtop.analysis.advisor.selectivity import (
    by_selectivity,
    lookup_fraction,
    merged_fractions,
)
from dbtop.analysis.advisor.selectivity import (
    eq_fraction as eq_fraction,
)
from dbtop.analysis.advisor.workload import (
    ExistingIndex,
    QueryInfo,
    SortKey,
    TableAccess,
    TableFacts,
    TableRef,
    Workload,
)
from dbtop.model import Rejection, frozen


@dataclass(frozen=True, slots=True)
class AdvisorSettings:
    """The advisor's thresholds; the defaults suit an OLTP workload."""

    #: tables with fewer rows are read faster by a sequential scan than indexed
    min_rows: int = 10_000
    #: a lookup matching more than this share of a table's rows is not selective
    max_eq_fraction: float = 0.2
    max_key_columns: int = 4
    max_include_columns: int = 3
    #: summed average width (bytes) of the columns a covering variant may add
    max_include_width: int = 64
    #: "include": INCLUDE (…) columns (PostgreSQL); "key": appended key columns (MySQL,
    #: MongoDB); "none": no covering variants
    covering: str = "include"
    #: a constant predicate found in more than this share (by time) of the statements on a
    #: table makes partial-index candidates
    partial_share: float = 0.5
    #: a statement counts as served when its cost falls by at least this fraction
    min_gain: float = 0.2
    #: a suggestion must save at least this share of the workload's time
    min_benefit: float = 0.001
    #: candidates of one table leaving at most this much more (relative) cost on its
    #: statements than the best one are a tie: the smallest index wins
    tie_margin: float = 0.05
    max_suggestions: int = 10
    #: at most this many candidates go to verification (the most used are kept)
    max_candidates: int = 250
    #: an ORDER BY without LIMIT or lookup makes a candidate too (the planner may read a
    #: correlated or narrow table in index order rather than sort it): the what-if decides
    sort_without_limit: bool = True


@dataclass(frozen=True, slots=True)
class Candidate:
    """A possible index. Identity is the index itself; ``queries`` and ``origin`` say where
    it came from (merged when several statements want the same index).

    ``lookups`` is how many leading columns are compared with single values (equality, join,
    IN): their order among themselves does not matter to a lookup.
    """

    table: TableRef
    columns: tuple[str, ...]
    descending: tuple[bool, ...] = ()
    include: tuple[str, ...] = ()
    where: tuple[str, ...] = ()
    method: str = "btree"
    lookups: int = field(default=0, compare=False)
    queries: frozenset[str] = field(default=frozenset(), compare=False)
    origin: tuple[str, ...] = field(default=(), compare=False)
    #: the share of rows a lookup column's predicate keeps where the statement says more
    #: than ``= value`` would (``IS NULL``: the null fraction), by column
    fractions: tuple[tuple[str, float], ...] = field(default=(), compare=False)

    def is_descending(self, position: int) -> bool:
        return bool(self.descending) and self.descending[position]

    @property
    def label(self) -> str:
        """``schema.table (a, b DESC) INCLUDE (c) WHERE …`` for messages and sorting."""
        cols = ", ".join(
            f"{col} DESC" if self.is_descending(i) else col for i, col in enumerate(self.columns)
        )
        text = f"{self.table.key} ({cols})"
        if self.include:
            text += f" INCLUDE ({', '.join(self.include)})"
        if self.where:
            text += f" WHERE {' AND '.join(self.where)}"
        return text

    @property
    def width(self) -> int:
        """Columns stored: a rough size for tie-breaks (smaller wins)."""
        return len(self.columns) + len(self.include)

    def rejection(self, reason: str) -> Rejection:
        return Rejection(
            table=self.table.name,
            columns=self.columns,
            reason=reason,
            schema=self.table.schema,
            include=self.include,
            where=" AND ".join(self.where) or None,
            # the statements it was proposed for (their ids, as in a suggestion's queries)
            extra=frozen(queries=sorted(self.queries)),
        )


@dataclass(frozen=True, slots=True)
class CandidateSet:
    candidates: tuple[Candidate, ...]
    rejected: tuple[Rejection, ...]


def generate(workload: Workload, settings: AdvisorSettings | None = None) -> CandidateSet:
    """Candidates for every table access of the workload, and the rejected ones with reasons."""
    settings = settings or AdvisorSettings()
    shared = shared_constants(workload, settings)
    merged: dict[Candidate, Candidate] = {}
    for query in workload.queries:
        for access, facts in _targets(workload, query):
            for cand in _for_access(query, access, facts, shared.get(access.table, ()), settings):
                old = merged.get(cand)
                if old is None:
                    merged[cand] = cand
                else:
                    merged[cand] = replace(
                        old,
                        lookups=min(old.lookups, cand.lookups),
                        queries=old.queries | cand.queries,
                        origin=_union(old.origin, cand.origin),
                        fractions=merged_fractions(old, cand, facts),
                    )
    kept: list[Candidate] = []
    rejected: list[Rejection] = []
    for cand in merged.values():
        reason = _reason_to_drop(cand, workload.tables[cand.table], settings)
        if reason is None:
            kept.append(cand)
        else:
            rejected.append(cand.rejection(reason))
    if len(kept) > settings.max_candidates:
        kept.sort(key=lambda c: (-_weight(workload, c), c.width, c.label))
        for cand in kept[settings.max_candidates :]:
            rejected.append(
                cand.rejection(
                    f"not evaluated: more than {settings.max_candidates} candidates, "
                    "the ones serving the most time were kept"
                )
            )
        kept = kept[: settings.max_candidates]
    kept.sort(key=lambda c: c.label)
    rejected.sort(key=lambda r: (r.schema or "", r.table, r.columns, r.include, r.where or ""))
    return CandidateSet(tuple(kept), tuple(rejected))


def _targets(workload: Workload, query: QueryInfo) -> Iterator[tuple[TableAccess, TableFacts]]:
    """Each useful access with its table's facts; an access to a partition once more as an
    access to its partitioned root (an index there serves every partition)."""
    for access in query.accesses:
        facts = workload.tables.get(access.table)
        if facts is None or not access.is_useful:
            continue
        yield access, facts
        root = workload.parents.get(access.table)
        top = workload.tables.get(root) if root is not None else None
        if root is not None and top is not None:
            if not any(c.n_distinct for c in top.columns.values()):
                # the root never analyzed (autovacuum does not): its partition's statistics
                top = replace(top, columns=facts.columns)
            yield replace(access, table=root), top


def shared_constants(
    workload: Workload, settings: AdvisorSettings
) -> dict[TableRef, tuple[str, ...]]:
    """Per table, the constant predicates present in most of its statements (by time)."""
    time_on: dict[TableRef, float] = {}
    time_with: dict[TableRef, dict[str, float]] = {}
    for query in workload.queries:
        for table in workload.reaches(query):
            time_on[table] = time_on.get(table, 0.0) + _time(query)
            consts = {
                c.sql
                for access in query.accesses
                if table in (access.table, workload.parents.get(access.table))
                for c in access.constants
            }
            per = time_with.setdefault(table, {})
            for sql in consts:
                per[sql] = per.get(sql, 0.0) + _time(query)
    result: dict[TableRef, tuple[str, ...]] = {}
    for table, per in time_with.items():
        total = time_on[table]
        chosen = sorted(
            sql for sql, t in per.items() if total and t / total > settings.partial_share
        )
        if chosen:
            result[table] = tuple(chosen)
    return result


def _time(query: QueryInfo) -> float:
    # A statement without timing (a running session's query) still counts as one.
    return query.total_ms if query.total_ms > 0 else 1e-9


def _weight(workload: Workload, cand: Candidate) -> float:
    return sum(workload.share(q) for q in workload.queries if q.id in cand.queries)


def _union(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*a, *b)))


def _sort_directions(order_by: Sequence[SortKey]) -> tuple[bool, ...]:
    """Per sort key, whether the index column is DESC; all-same directions need none (a
    btree reads backwards), mixed ones are normalized so the first key is ascending."""
    desc = [k.descending for k in order_by]
    if all(d == desc[0] for d in desc):
        return tuple(False for _ in desc)
    if desc[0]:
        desc = [not d for d in desc]
    return tuple(desc)


def _for_access(
    query: QueryInfo,
    access: TableAccess,
    facts: TableFacts,
    shared: Sequence[str],
    settings: AdvisorSettings,
) -> Iterator[Candidate]:
    present = {c.sql: c.column for c in access.constants}
    where = tuple(
        sql
        for sql in shared
        if sql in present and not _selective_lookup(access, facts, present[sql], settings)
    )
    variants: list[tuple[tuple[str, ...], frozenset[str]]] = [((), frozenset())]
    if where:
        variants.insert(0, (where, frozenset(present[sql] for sql in where)))
    for partial, fixed in variants:
        for cand in _shapes(access, facts, fixed, settings):
            cand = replace(cand, where=partial, queries=frozenset({query.id}))
            yield cand
            covering = _covering(cand, access, facts, fixed, settings)
            if covering is not None:
                yield covering
        if partial:
            # A statement that filters on nothing but the shared predicate still gains from
            # a partial index keyed on the predicate's column.
            tests = {c.sql: c for c in access.constants}
            for sql in partial:
                kept = tests[sql].fraction(facts)
                yield Candidate(
                    table=access.table,
                    columns=(present[sql],),
                    where=partial,
                    lookups=1,
                    queries=frozenset({query.id}),
                    origin=(f"partial index for {sql}",),
                    fractions=((present[sql], kept),) if kept is not None else (),
                )


def _selective_lookup(
    access: TableAccess, facts: TableFacts, column: str, settings: AdvisorSettings
) -> bool:
    """A literal ``col = 42`` on a selective column belongs in the key, not in a partial
    index's predicate (which would serve that one value only)."""
    return column in access.equality and eq_fraction(facts, column) <= settings.max_eq_fraction


def _shapes(
    access: TableAccess, facts: TableFacts, fixed: frozenset[str], settings: AdvisorSettings
) -> Iterator[Candidate]:
    """Key column lists for one access: lookups first, then a range, a sort or a grouping."""
    limit = settings.max_key_columns
    table = access.table
    # ``col IS NULL`` is a btree search like ``col = value``, keeping the null fraction: a
    # key column where that is selective (a mostly NULL column is a partial index's case)
    null_keys = {
        c.column: kept
        for c in access.null_tests(True)
        if c.column not in fixed
        and c.column not in access.lookup_columns
        and (kept := c.fraction(facts)) is not None
        and kept <= settings.max_eq_fraction
    }

    def fraction(col: str) -> float:
        return null_keys.get(col, eq_fraction(facts, col))

    looked_up = [*(c for c in access.lookup_columns if c not in fixed), *null_keys]
    lookups = sorted(dict.fromkeys(looked_up), key=lambda c: (fraction(c), looked_up.index(c)))
    in_cols = by_selectivity(
        facts, (c for c in access.in_list if c not in fixed and c not in lookups)
    )
    ranges = [c for c in dict.fromkeys(access.range) if c not in fixed and c not in lookups]
    # ``col IS NOT NULL`` is a btree range; worth a key only on a mostly NULL column
    for test in access.null_tests(False):
        kept = test.fraction(facts)
        col = test.column
        mostly_null = kept is not None and kept <= settings.max_eq_fraction
        if mostly_null and col not in fixed and col not in lookups and col not in ranges:
            ranges.append(col)

    def make(
        cols: Sequence[str], n_lookups: int, why: str, desc: Sequence[bool] = ()
    ) -> Candidate | None:
        cols = tuple(dict.fromkeys(cols))
        if not cols or len(cols) > limit:
            return None
        descending = tuple(desc) if any(desc) else ()
        if descending and len(descending) != len(cols):
            descending = (False,) * (len(cols) - len(descending)) + descending
        n = min(n_lookups, len(cols))
        return Candidate(
            table=table,
            columns=cols,
            descending=descending,
            lookups=n,
            origin=(why,),
            fractions=tuple((c, null_keys[c]) for c in cols[:n] if c in null_keys),
        )

    found: list[Candidate | None] = []
    for col in lookups:
        kind = "join on" if col in access.join and col not in access.equality else "equality on"
        why = f"{kind} {col}"
        if col in null_keys:
            why = f"{col} IS NULL ({null_keys[col]:.1%} of the rows are NULL)"
        found.append(make((col,), 1, why))
    for k in range(2, min(len(lookups), limit) + 1):
        found.append(make(lookups[:k], k, "equality on " + ", ".join(lookups[:k])))
    head = lookups[: limit - 1]
    for col in in_cols:
        found.append(make((col,), 1, f"IN list on {col}"))
        if head:
            found.append(make((*head, col), len(head) + 1, f"equality and IN list on {col}"))
    for col in ranges:
        found.append(make((col,), 0, f"range on {col}"))
        if head:
            found.append(
                make((*head, col), len(head), f"equality on {', '.join(head)}, range on {col}")
            )
        if in_cols and len(head) + 2 <= limit:
            found.append(
                make(
                    (*head, in_cols[0], col),
                    len(head) + 1,
                    f"equality and IN list, range on {col}",
                )
            )
    order = list({k.column: k for k in access.order_by if k.column not in fixed}.values())
    if order and (access.limit or lookups or settings.sort_without_limit):
        sort_cols = [k.column for k in order]
        desc = _sort_directions(order)
        why = "ORDER BY " + ", ".join(sort_cols) + (" with LIMIT" if access.limit else "")
        if access.limit:
            found.append(make(sort_cols, 0, why, desc))
        elif settings.sort_without_limit and not lookups and not in_cols:
            # (with a lookup, the lookup's index sorts the few rows it finds: below)
            found.append(make(sort_cols, 0, f"{why} (a full read in index order)", desc))
        if head:
            lead = [c for c in head if c not in sort_cols]
            found.append(make((*lead, *sort_cols), len(lead), f"equality, then {why}", desc))
    group = [c for c in dict.fromkeys(access.group_by) if c not in fixed]
    if group:
        found.append(make(group, 0, "GROUP BY " + ", ".join(group)))
        if head:
            lead = [c for c in head if c not in group]
            found.append(make((*lead, *group), len(lead), "equality, then GROUP BY"))
    seen: set[Candidate] = set()
    for cand in found:
        if cand is not None and cand not in seen:
            seen.add(cand)
            yield cand


def _covering(
    cand: Candidate,
    access: TableAccess,
    facts: TableFacts,
    fixed: frozenset[str],
    settings: AdvisorSettings,
) -> Candidate | None:
    """The variant that holds every column the statement reads, for an index-only scan."""
    if settings.covering == "none" or access.selected is None:
        return None
    rest = [c for c in dict.fromkeys(access.selected) if c not in cand.columns and c not in fixed]
    if not rest or len(rest) > settings.max_include_columns:
        return None
    width = 0
    for col in rest:
        stats = facts.columns.get(col)
        if stats is None or stats.avg_width is None:
            return None
        width += stats.avg_width
    if width > settings.max_include_width:
        return None
    why = "covering " + ", ".join(rest) + " for an index-only scan"
    if settings.covering == "key":
        if len(cand.columns) + len(rest) > settings.max_key_columns:
            return None
        desc = cand.descending + (False,) * len(rest) if cand.descending else ()
        return replace(
            cand, columns=(*cand.columns, *rest), descending=desc, origin=(*cand.origin, why)
        )
    return replace(cand, include=tuple(rest), origin=(*cand.origin, why))


def serves(index: ExistingIndex, cand: Candidate) -> bool:
    """Whether an existing index already gives what the candidate would, through its leading
    columns: the same lookup columns in any order, then the same remaining columns in order,
    and (for a covering candidate) every included column somewhere in the index."""
    if not index.valid or index.method != cand.method:
        return False
    if index.where and tuple(sorted(index.where)) != tuple(sorted(cand.where)):
        return False
    n = len(cand.columns)
    if len(index.columns) < n:
        return False
    lead = index.columns[:n]
    k = cand.lookups
    if set(lead[:k]) != set(cand.columns[:k]) or tuple(lead[k:]) != cand.columns[k:]:
        return False
    if cand.descending and n > k:
        mine = tuple(cand.is_descending(i) for i in range(k, n))
        theirs = tuple(bool(index.descending) and index.descending[i] for i in range(k, n))
        if theirs != mine and theirs != tuple(not d for d in mine):
            return False
    stored = {c for c in (*index.columns, *index.include) if c is not None}
    return all(col in stored for col in cand.include)


def served_by(
    indexes: Iterable[ExistingIndex], cand: Candidate
) -> tuple[ExistingIndex | None, bool]:
    """The existing index that serves the candidate's key columns, and whether it also
    holds the candidate's INCLUDE columns."""
    bare = replace(cand, include=())
    for index in indexes:
        if serves(index, bare):
            return index, serves(index, cand)
    return None, False


def _reason_to_drop(cand: Candidate, facts: TableFacts, settings: AdvisorSettings) -> str | None:
    if facts.rows < settings.min_rows:
        return (
            f"tiny table: {facts.table.key} has about {facts.rows:,.0f} rows "
            f"(fewer than {settings.min_rows:,}), a sequential scan reads it quickly"
        )
    index, full = served_by(facts.indexes, cand)
    if index is not None:
        if full or not cand.include:
            return f"already served by index {index.name}"
        return (
            f"the lookup is already served by index {index.name}; covering it would only "
            "save heap fetches"
        )
    lookup_cols = cand.columns[: cand.lookups]
    rest = cand.columns[cand.lookups :]
    if lookup_cols and not rest:
        fraction = 1.0
        for col in lookup_cols:
            fraction *= lookup_fraction(cand, facts, col)
        if fraction > settings.max_eq_fraction:
            what = lookup_cols[0] if len(lookup_cols) == 1 else ", ".join(lookup_cols)
            stats = facts.columns.get(lookup_cols[0]) if len(lookup_cols) == 1 else None
            distinct = stats.distinct(facts.rows) if stats else None
            detail = f", {distinct:,.0f} distinct values" if distinct is not None else ""
            return (
                f"not selective: a value of {what} matches about {fraction:.0%} of the rows{detail}"
            )
    return None
