"""What an index costs the statements that write its table, weighed against what it saves.

Every index must be kept up to date: each INSERT adds an entry to it, and so does each
UPDATE that is not HOT (one that sets an indexed column, which a new index may make true).
A DELETE leaves the entries for VACUUM, so it costs the statement nothing at the time. The
advisor knows the write statements of the workload (``Workload.writes``: their calls and
time per table, from the statement statistics) but no planner costs writes, so a model
stands in: with ``k`` indexes on the table, a write that touches them all does about
``k + 2`` units of work (the statement itself: parsing, WAL, commit; the heap; each index),
and one more index adds one unit, that is ``1 / (k + 2)`` of the statement's time. The
figure is rough on purpose: it only has to tell a write-heavy table, where an index that
saves a little read time loses, from the usual case, where the writes' share is far below
what the index saves.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dbtop.analysis.advisor.workload import TableFacts, TableRef

if TYPE_CHECKING:
    from dbtop.analysis.advisor.candidates import Candidate
    from dbtop.analysis.advisor.workload import Workload

KINDS = ("INSERT", "UPDATE", "DELETE")


@dataclass(frozen=True, slots=True)
class Write:
    """One write statement on a table: ``kind`` is INSERT, UPDATE or DELETE (a MERGE or an
    upsert counts as an INSERT); ``columns`` the ones an UPDATE sets."""

    query_id: str
    kind: str
    calls: int
    total_ms: float
    columns: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class TableWrites:
    """The write statements of the workload on one table."""

    table: TableRef
    writes: tuple[Write, ...]

    def calls(self, kind: str) -> int:
        return sum(w.calls for w in self.writes if w.kind == kind)

    def rates(self, period_s: float | None) -> dict[str, float | None]:
        """Calls/s of each kind over the statistics' period (None when not known)."""
        return {
            kind: (self.calls(kind) / period_s if period_s else None)
            for kind in KINDS
            if self.calls(kind)
        }


def _indexed(facts: TableFacts) -> set[str]:
    return {c for index in facts.indexes for c in (*index.columns, *index.include) if c}


def maintenance(
    cand: Candidate, writes: TableWrites, facts: TableFacts, total_ms: float
) -> tuple[float, list[Write]]:
    """The share of the workload's time keeping ``cand`` up to date would add, and the
    write statements that would pay it."""
    mine = {*cand.columns, *cand.include, *_where_columns(cand.where, facts)}
    indexed = _indexed(facts)
    share = 1.0 / (len(facts.indexes) + 2)
    paying = []
    for write in writes.writes:
        if write.kind == "INSERT":
            paying.append(write)
        elif write.kind == "UPDATE" and (not write.columns or write.columns & (mine | indexed)):
            # it sets an indexed column (or the new index's): not HOT, every index gets
            # an entry; an UPDATE of other columns only stays HOT
            paying.append(write)
    extra = sum(w.total_ms for w in paying) * share
    return (extra / total_ms if total_ms > 0 else 0.0), paying


def _where_columns(where: Sequence[str], facts: TableFacts) -> Iterable[str]:
    """The columns a partial index's predicate names (an UPDATE of one is not HOT)."""
    for sql in where:
        for word in re.findall(r'"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*', sql):
            name = word[1:-1].replace('""', '"') if word.startswith('"') else word
            if name in facts.columns:
                yield name


class WriteCost:
    """Per candidate, the share of the workload's time its upkeep costs (0 on a table the
    workload does not write), and the words saying so."""

    def __init__(self, workload: Workload) -> None:
        self._workload = workload
        self._cache: dict[Candidate, tuple[float, list[Write]]] = {}

    def _of(self, cand: Candidate) -> tuple[float, list[Write]]:
        found = self._cache.get(cand)
        if found is None:
            writes = self._writes(cand.table)
            facts = self._workload.tables.get(cand.table)
            found = (0.0, [])
            if writes is not None and facts is not None:
                found = maintenance(cand, writes, facts, self._workload.total)
            self._cache[cand] = found
        return found

    def _writes(self, table: TableRef) -> TableWrites | None:
        writes: Mapping[TableRef, TableWrites] = self._workload.writes
        found = writes.get(table)
        # an index on a partitioned table is kept up by the writes on every partition
        parts = [w for t, w in writes.items() if self._workload.parents.get(t) == table]
        if parts:
            every = [*(found.writes if found else ()), *(x for w in parts for x in w.writes)]
            return TableWrites(table, tuple(every))
        return found

    def share(self, cand: Candidate) -> float:
        return self._of(cand)[0]

    def figures(self, cand: Candidate) -> str | None:
        """``INSERT 12.5 calls/s, UPDATE of status 3.0 calls/s`` (calls where the period
        is not known), None when no write pays for it."""
        _, paying = self._of(cand)
        if not paying:
            return None
        period = self._workload.period_s
        parts = []
        for kind in KINDS:
            of_kind = [w for w in paying if w.kind == kind]
            if not of_kind:
                continue
            calls = sum(w.calls for w in of_kind)
            rate = f"{calls / period:,.1f} calls/s" if period else f"{calls:,} calls"
            cols = sorted({c for w in of_kind for c in w.columns})
            label = f"{kind} of {', '.join(cols)}" if kind == "UPDATE" and cols else kind
            parts.append(f"{label} {rate}")
        return ", ".join(parts)

    def reason(self, cand: Candidate, saves: float) -> str:
        """Why a candidate whose upkeep outweighs its read saving is not suggested."""
        return (
            f"the writes outweigh it: keeping it up to date would cost about "
            f"{self.share(cand):.2%} of the workload's time "
            f"({self.figures(cand)} on {cand.table.key}), more than the {saves:.2%} "
            "it saves on reads"
        )

    def note(self, cand: Candidate, saves: float) -> str | None:
        """The write figures of a suggestion, when its table is written."""
        figures = self.figures(cand)
        if figures is None:
            return None
        return (
            f"Writes on {cand.table.key}: {figures}; keeping the index up to date costs "
            f"about {self.share(cand):.2%} of the workload's time, against {saves:.2%} saved"
        )
