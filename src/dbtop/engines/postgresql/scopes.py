"""Names in a PostgreSQL statement's scopes: which table occurrence a column reference is.

Aliases in the statement's scopes are searched innermost first (so correlated subqueries see
their outer tables), CTE names hide tables of the same name, and a name that reaches a
subquery, a function or an ambiguous column stops the search (``OPAQUE``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pglast import ast

from dbtop.analysis.advisor.access import AccessBuilder


@dataclass(eq=False)
class Rel:
    """A name in a FROM clause: a table occurrence (acc) or something derived (no acc)."""

    name: str
    acc: AccessBuilder | None
    table_name: str | None = None
    schema: str | None = None
    aliased: bool = False


@dataclass(eq=False)
class Scope:
    parent: Scope | None
    #: CTE names visible here (they hide tables of the same name)
    ctes: Mapping[str, None] = field(default_factory=dict)
    rels: list[Rel] = field(default_factory=list)
    targets: Sequence[Any] = ()


#: a name that resolves to something that is not a table occurrence (subquery, CTE,
#: function, unknown relation) or is ambiguous: the search stops there
OPAQUE = Rel("?", None)


Column = tuple[AccessBuilder, str, Scope]


class Resolver:
    """Column references resolved to table occurrences (the walker's base)."""

    def _expression(self, node: Any, scope: Scope) -> None:
        """Read the columns of an expression (the walker does it)."""
        raise NotImplementedError

    # -- names ---------------------------------------------------------------------------

    def _column(self, node: Any, scope: Scope) -> Column | None:
        """A plain column reference resolved to its table occurrence, else None."""
        if not isinstance(node, ast.ColumnRef):
            return None
        names = [f.sval if isinstance(f, ast.String) else None for f in node.fields or ()]
        if None in names:
            return None
        level: Scope | None = scope
        while level is not None:
            found = self._in_scope(names, level)  # type: ignore[arg-type]
            if found is not None:
                rel, column = found
                if rel.acc is None:
                    return None
                return rel.acc, column, level
            level = level.parent
        return None

    def _derived_column(self, node: Any, scope: Scope) -> bool:
        """Whether ``node`` is a column of a derived relation (subquery, CTE, function,
        VALUES) of this very scope."""
        if not isinstance(node, ast.ColumnRef):
            return False
        names = [f.sval if isinstance(f, ast.String) else None for f in node.fields or ()]
        if None in names:
            return False
        if len(names) == 1:
            column = names[0]
            owned = any(r.acc is not None and column in r.acc.columns for r in scope.rels)
            return not owned and any(r.acc is None for r in scope.rels)
        found = self._in_scope(names, scope)  # type: ignore[arg-type]
        return found is not None and found[0].acc is None and found[0] is not OPAQUE

    def _in_scope(self, names: list[str], scope: Scope) -> tuple[Rel, str] | None:
        """The name's owner in this scope level, OPAQUE when it stops the search here
        without being a table's column, None when the search goes on outwards."""
        column = names[-1]
        if len(names) == 1:
            owners = [r for r in scope.rels if r.acc is not None and column in r.acc.columns]
            if len(owners) == 1:
                return owners[0], column
            if owners or any(r.acc is None for r in scope.rels):
                return OPAQUE, column
            return None
        qualifier = names[-2]
        schema = names[-3] if len(names) >= 3 else None
        for rel in scope.rels:
            if rel.aliased and schema is None and rel.name == qualifier:
                return rel, column
        for rel in scope.rels:
            if rel.aliased or rel.table_name != qualifier:
                continue
            if schema is None or schema in (rel.schema, rel.acc and rel.acc.table.schema):
                if rel.acc is None or column in rel.acc.columns:
                    return rel, column
                return OPAQUE, column
        return None

    def _target_column(self, node: Any, scope: Scope) -> Column | None:
        """GROUP BY / ORDER BY items: a column, an output name or an output position."""
        if isinstance(node, ast.A_Const) and isinstance(node.val, ast.Integer):
            position = node.val.ival or 0
            if 1 <= position <= len(scope.targets):
                return self._column(scope.targets[position - 1].val, scope)
            return None
        if isinstance(node, ast.ColumnRef) and len(node.fields or ()) == 1:
            found = self._column(node, scope)
            if found is not None:
                return found
            name = (node.fields or (None,))[0]
            for target in scope.targets:
                if isinstance(name, ast.String) and target.name == name.sval:
                    return self._column(target.val, scope)
            return None
        self._expression(node, scope)
        return self._column(node, scope)
