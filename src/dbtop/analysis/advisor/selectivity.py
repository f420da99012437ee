"""How many rows a lookup keeps: the selectivity rules of candidate generation.

``= value`` keeps the non-null share spread over the distinct values (the planner's guess
for a parameter); ``IS NULL`` keeps the null fraction, which a statement's candidate
carries in ``Candidate.fractions`` (the column's ``= value`` figure would say nothing of it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from dbtop.analysis.advisor.workload import TableFacts

if TYPE_CHECKING:
    from dbtop.analysis.advisor.candidates import Candidate

#: The planner's guess for ``col = $1`` on a column it has no statistics for.
DEFAULT_EQ_FRACTION = 0.005


def eq_fraction(facts: TableFacts, column: str) -> float:
    stats = facts.columns.get(column)
    value = stats.eq_fraction(facts.rows) if stats else None
    return DEFAULT_EQ_FRACTION if value is None else value


def by_selectivity(facts: TableFacts, columns: Iterable[str]) -> list[str]:
    cols = list(dict.fromkeys(columns))
    return sorted(cols, key=lambda c: (eq_fraction(facts, c), cols.index(c)))


def merged_fractions(
    old: Candidate, new: Candidate, facts: TableFacts
) -> tuple[tuple[str, float], ...]:
    """Per key column, the most selective use any of the statements makes of it."""
    a, b = dict(old.fractions), dict(new.fractions)
    if not a and not b:
        return ()
    merged = {
        col: min(a.get(col, eq_fraction(facts, col)), b.get(col, eq_fraction(facts, col)))
        for col in {*a, *b}
    }
    return tuple(sorted(merged.items()))


def lookup_fraction(cand: Candidate, facts: TableFacts, column: str) -> float:
    """The share of rows one probe of a lookup column keeps, as the statements use it."""
    known = dict(cand.fractions).get(column)
    return eq_fraction(facts, column) if known is None else known
