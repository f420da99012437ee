"""The table access being collected while an engine walks a statement: one model for all.

An engine's statement parser (pglast for PostgreSQL, sqlglot for MySQL) creates one
``AccessBuilder`` per table occurrence, appends what each predicate, sort and projection
uses, and calls ``build()`` for the frozen ``TableAccess`` the advisor reads.

``limit`` counts only with an ORDER BY on this table: an index helps a LIMIT by returning
rows in the sort's order and stopping after enough of them; a LIMIT without an ORDER BY lets
any plan stop early, so it says nothing about which index to build (``build()`` drops it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from dbtop.analysis.advisor.workload import Constant, SortKey, TableAccess, TableRef


def _uniq(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


@dataclass(eq=False)
class AccessBuilder:
    """The access being collected for one table occurrence (mutable until ``build``)."""

    table: TableRef
    #: the table's known columns (what name resolution needs), empty when not known
    columns: frozenset[str] = frozenset()
    equality: list[str] = field(default_factory=list)
    range: list[str] = field(default_factory=list)
    join: list[str] = field(default_factory=list)
    in_list: list[str] = field(default_factory=list)
    order_by: list[SortKey] = field(default_factory=list)
    limit: bool = False
    group_by: list[str] = field(default_factory=list)
    constants: dict[str, Constant] = field(default_factory=dict)
    #: the columns read anywhere in the statement, in the order they were met
    read: dict[str, None] = field(default_factory=dict)
    #: every column is read (``SELECT *``, a row rewritten by UPDATE / DELETE)
    star: bool = False

    def build(self, *, sort_selected: bool = False) -> TableAccess:
        """The frozen access; ``sort_selected`` lists the columns read by name, not in the
        order they were met (what covering keys are then built from)."""
        selected = sorted(self.read) if sort_selected else list(self.read)
        return TableAccess(
            table=self.table,
            equality=_uniq(self.equality),
            range=_uniq(self.range),
            join=_uniq(self.join),
            in_list=_uniq(self.in_list),
            order_by=tuple(self.order_by),
            limit=self.limit and bool(self.order_by),
            group_by=_uniq(self.group_by),
            constants=tuple(self.constants.values()),
            selected=None if self.star else tuple(selected),
        )
