"""Relations the planner flattens into the query: views, inlined CTEs, simple subqueries.

PostgreSQL replaces a view by its query, inlines a CTE referenced once that is not
``MATERIALIZED`` (12+), and pulls a simple subquery in FROM up into the outer query. A
filter, a join or a sort on such a relation's output column then reaches the base table's
column, so the walker resolves the output column to it (``Rel.mapping``). A relation that
is not flattened (a ``MATERIALIZED`` CTE, one referenced twice, a recursive one, a subquery
with LIMIT, a window function or a set operation) stays opaque: the planner computes it
first, and an outer predicate cannot use an index of the table inside.

This only proposes candidates: whether the planner really reaches the table through the
relation is what the what-if cost of each candidate then shows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pglast import ast
from pglast.enums import CTEMaterialize, SetOperation

from dbtop.analysis.advisor.access import AccessBuilder
from dbtop.engines.postgresql.scopes import Rel, Scope, output_columns, walk_nodes

if TYPE_CHECKING:
    from dbtop.engines.postgresql.access_walker import Walker


@dataclass(frozen=True, slots=True)
class CteDef:
    """A CTE the planner inlines: walked where it is referenced, as a subquery would be."""

    query: Any
    parent: Scope | None
    #: the CTE names visible to its own query
    ctes: Mapping[str, CteDef | None]
    #: ``WITH name (a, b) AS …``: the output columns renamed
    colnames: tuple[str, ...] = ()


#: the CTEs visible in a scope: a name to inline, or None for an opaque one
Ctes = Mapping[str, CteDef | None]


def ctes_of(
    walker: Walker, owner: Any, parent: Scope | None, ctes: Ctes, *, inline: bool = True
) -> dict[str, CteDef | None]:
    """The CTEs ``owner``'s WITH clause adds to ``ctes``. The opaque ones are walked here,
    once; the ones the planner inlines (``inline``: PostgreSQL 12+) at each reference."""
    names: dict[str, CteDef | None] = dict(ctes)
    with_clause = getattr(owner, "withClause", None)
    if with_clause is None:
        return names
    for cte in with_clause.ctes or ():
        if with_clause.recursive:
            names[cte.ctename] = None
        query = cte.ctequery
        refs = _references(owner, cte.ctename)
        if (
            inline
            and not with_clause.recursive
            and isinstance(query, ast.SelectStmt)
            and cte.ctematerialized != CTEMaterialize.CTEMaterializeAlways
            and (refs == 1 or cte.ctematerialized == CTEMaterialize.CTEMaterializeNever)
        ):
            colnames = tuple(str(n.sval) for n in cte.aliascolnames or ())
            names[cte.ctename] = CteDef(query, parent, dict(names), colnames)
            continue
        if isinstance(query, ast.SelectStmt):
            walker.select(query, parent, names)
        elif isinstance(query, ast.UpdateStmt | ast.DeleteStmt):
            walker.modify(query, parent)
        names[cte.ctename] = None
    return names


def _references(owner: Any, name: str) -> int:
    return sum(
        1
        for node in walk_nodes(owner)
        if isinstance(node, ast.RangeVar) and node.schemaname is None and node.relname == name
    )


def flattened(stmt: Any) -> bool:
    """Whether the planner pulls this SELECT up into the query that reads it (or pushes
    predicates on its plain output columns down into it)."""
    if not isinstance(stmt, ast.SelectStmt):
        return False
    if stmt.op is not None and stmt.op != SetOperation.SETOP_NONE:
        return False
    if stmt.limitCount is not None or stmt.limitOffset is not None or stmt.valuesLists:
        return False
    if stmt.lockingClause:
        return False
    return not any(
        isinstance(node, ast.FuncCall) and node.over is not None
        for node in walk_nodes(stmt.targetList or ())
    )


def derived_rel(
    walker: Walker,
    query: Any,
    parent: Scope | None,
    ctes: Ctes,
    name: str,
    colnames: Sequence[str] = (),
) -> Rel:
    """Walk a view's, a CTE's or a subquery's query and name its output columns; those the
    planner reaches through (plain columns of a flattened query) map to the table's."""
    inner = walker.select(query, parent, ctes)
    if not flattened(query):
        return Rel(name, None, aliased=True)
    outputs = output_columns(inner)
    if outputs is None:
        return Rel(name, None, aliased=True)
    names = [n for n, _ in outputs]
    for i, renamed in enumerate(colnames[: len(names)]):
        names[i] = renamed
    mapping: dict[str, tuple[AccessBuilder, str]] = {}
    for column, (_, value) in zip(names, outputs, strict=True):
        found = walker._column(value, inner)
        if column is not None and found is not None and found[2] is inner:
            mapping.setdefault(column, (found[0], found[1]))
    known = None if None in names else tuple(n for n in names if n is not None)
    return Rel(name, None, aliased=True, order=known, mapping=mapping)
