"""Which indexes another index makes pointless: exact duplicates and left-prefix redundancy.

Engine-neutral: an IndexStat's ``columns`` are its key columns in order; ``extra`` may carry
``method`` (btree, hash, gin …), ``predicate`` (a partial index's WHERE) and ``include``.
Only indexes with the same method and predicate on the same table can make each other
redundant, and a prefix makes an index redundant only for ordered methods (btree).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dbtop.model import IndexStat

#: methods whose indexes serve any left prefix of their columns (MySQL/MongoDB leave it unset)
ORDERED_METHODS = frozenset({"btree", None})


@dataclass(frozen=True, slots=True)
class Redundancy:
    index: str
    kind: str  # "duplicate" or "redundant"
    #: the IndexStat.key and the name of the index that covers this one
    covered_by: str
    covered_by_name: str


def _group_key(index: IndexStat) -> tuple[object, ...]:
    return (
        index.node,
        index.schema,
        index.table,
        index.extra.get("method"),
        index.extra.get("predicate"),
    )


def _keeps(index: IndexStat) -> tuple[int, int, str]:
    """Sort order for which of two duplicates to keep: constraints first, then by name."""
    return (
        0 if index.is_primary else 1,
        0 if (index.constraint or index.is_unique) else 1,
        index.name,
    )


def find_redundant(indexes: Iterable[IndexStat]) -> dict[str, Redundancy]:
    """For each index made pointless by another, which one and how (keyed by IndexStat.key).

    Invalid indexes and indexes without known columns are ignored: an invalid index is
    reported as such, and expression columns that are unknown cannot be compared.
    """
    groups: dict[tuple[object, ...], list[IndexStat]] = defaultdict(list)
    for index in indexes:
        if index.valid and index.columns:
            groups[_group_key(index)].append(index)
    found: dict[str, Redundancy] = {}
    for members in groups.values():
        if len(members) > 1:
            found.update(_in_group(sorted(members, key=_keeps)))
    return found


def _in_group(members: Sequence[IndexStat]) -> dict[str, Redundancy]:
    found: dict[str, Redundancy] = {}
    for pos, index in enumerate(members):
        if index.is_primary:
            continue
        for other in members:
            if other is index or other.key in found:
                continue
            if _duplicate(index, other) and members.index(other) < pos:
                found[index.key] = Redundancy(index.key, "duplicate", other.key, other.name)
                break
            if _prefix_of(index, other):
                found[index.key] = Redundancy(index.key, "redundant", other.key, other.name)
                break
    return found


def _duplicate(index: IndexStat, other: IndexStat) -> bool:
    if index.columns != other.columns:
        return False
    # A unique index is not a duplicate of a non-unique one: it enforces something.
    if (index.is_unique or index.is_primary) and not (other.is_unique or other.is_primary):
        return False
    return set(index.extra.get("include", ())) <= set(other.extra.get("include", ()))


def _prefix_of(index: IndexStat, other: IndexStat) -> bool:
    """``index``'s columns are a strict left prefix of ``other``'s (ordered methods only)."""
    if index.extra.get("method") not in ORDERED_METHODS:
        return False
    if index.is_unique or index.is_primary or index.constraint:
        return False
    n = len(index.columns)
    return n < len(other.columns) and other.columns[:n] == index.columns
