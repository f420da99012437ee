"""Existing indexes a suggested one makes redundant: the suggestion is then a replacement.

An existing btree index whose key columns are a left prefix of the new index's (same
directions, or all reversed), whose INCLUDE columns the new one stores and whose predicate
the new one keeps (a full index serves a partial one's statements; a partial index only the
same predicate's) serves no lookup, range or sort that the new one does not: once the new
index exists it only costs space and write upkeep. A unique index is never one of them (it
backs a rule about the data, not only reads), nor an invalid one (index health lists it).
The suggestion then carries the DROP of each, to run after the new index is built.
"""

from __future__ import annotations

from dataclasses import dataclass

from dbtop.analysis.advisor.candidates import Candidate
from dbtop.analysis.advisor.workload import ExistingIndex, TableFacts


@dataclass(frozen=True, slots=True)
class Replacement:
    """The existing indexes a suggestion replaces, and how that was established."""

    indexes: tuple[ExistingIndex, ...]
    #: what the engine checked, in words (e.g. the what-if cost with them hidden); None:
    #: the index definitions alone
    checked: str | None = None
    #: left prefixes of it that are kept, each with why
    kept: tuple[tuple[ExistingIndex, str], ...] = ()


def replacement_of(cand: Candidate, facts: TableFacts | None) -> Replacement:
    """The replacement by the index definitions alone."""
    return Replacement(made_redundant(cand, facts) if facts is not None else ())


def made_redundant(cand: Candidate, facts: TableFacts) -> tuple[ExistingIndex, ...]:
    """The existing indexes of the candidate's table it would make redundant."""
    return tuple(index for index in facts.indexes if _prefix_of(index, cand))


def _prefix_of(index: ExistingIndex, cand: Candidate) -> bool:
    if index.unique or not index.valid or index.method != cand.method:
        return False
    keys = index.columns
    if not keys or None in keys or len(keys) > len(cand.columns):
        return False
    if tuple(keys) != cand.columns[: len(keys)]:
        return False
    if len(keys) == len(cand.columns) and not cand.include and not index.include:
        return False  # the same index: never suggested (it is "already served")
    mine = tuple(cand.is_descending(i) for i in range(len(keys)))
    theirs = tuple(bool(index.descending) and index.descending[i] for i in range(len(keys)))
    if theirs != mine and theirs != tuple(not d for d in mine):
        return False
    stored = {*cand.columns, *cand.include}
    if not set(index.include) <= stored:
        return False
    return not cand.where or sorted(index.where) == sorted(cand.where)
