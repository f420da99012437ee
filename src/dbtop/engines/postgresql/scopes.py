"""Names in a PostgreSQL statement's scopes: which table occurrence a column reference is.

Aliases in the statement's scopes are searched innermost first (so correlated subqueries see
their outer tables), CTE names hide tables of the same name, and a name that reaches a
subquery, a function or an ambiguous column stops the search (``OPAQUE``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
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
    #: its columns in the order ``*`` lists them, None when not known
    order: tuple[str, ...] | None = None
    #: a flattened view, CTE or subquery (derived.py): its output columns that are a
    #: table's columns, resolved to that table occurrence
    mapping: Mapping[str, tuple[AccessBuilder, str]] | None = None

    def owns(self, column: str) -> bool | None:
        """Whether the name has this column (None: not known)."""
        if self.acc is not None:
            return column in self.acc.columns
        if self.order is not None:
            return column in self.order
        return None


@dataclass(eq=False)
class Scope:
    parent: Scope | None
    #: CTE names visible here (they hide tables of the same name); a ``CteDef`` for one
    #: the planner inlines (derived.py)
    ctes: Mapping[str, Any] = field(default_factory=dict)
    rels: list[Rel] = field(default_factory=list)
    targets: Sequence[Any] = ()
    #: a JOIN … USING / NATURAL JOIN lists its merged columns first in ``*``
    merged_join: bool = False


#: a name that resolves to something that is not a table occurrence (subquery, CTE,
#: function, unknown relation) or is ambiguous: the search stops there
OPAQUE = Rel("?", None)


Column = tuple[AccessBuilder, str, Scope]


def walk_nodes(nodes: Any) -> Iterator[Any]:
    """Every AST node under ``nodes`` (depth first)."""
    stack = [nodes]
    while stack:
        item = stack.pop()
        if isinstance(item, ast.Node):
            yield item
            stack.extend(getattr(item, name) for name in item)
        elif isinstance(item, list | tuple):
            stack.extend(item)


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
                    # a flattened relation's output column is its table's column
                    mapped = rel.mapping.get(column) if rel.mapping is not None else None
                    return None if mapped is None else (mapped[0], mapped[1], level)
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
            column = str(names[0])
            owned = any(
                (r.acc is not None and column in r.acc.columns)
                or (r.mapping is not None and column in r.mapping)
                for r in scope.rels
            )
            return not owned and any(
                r.acc is None and r.owns(column) is not False for r in scope.rels
            )
        found = self._in_scope(names, scope)  # type: ignore[arg-type]
        if found is None or found[0].acc is not None or found[0] is OPAQUE:
            return False
        return found[0].mapping is None or found[1] not in found[0].mapping

    def _in_scope(self, names: list[str], scope: Scope) -> tuple[Rel, str] | None:
        """The name's owner in this scope level, OPAQUE when it stops the search here
        without being a table's column, None when the search goes on outwards."""
        column = names[-1]
        if len(names) == 1:
            owners = [r for r in scope.rels if r.owns(column)]
            if len(owners) == 1:
                return owners[0], column
            if owners or any(r.owns(column) is None for r in scope.rels):
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
            values = _output_values(scope)
            if values is not None and 1 <= position <= len(values):
                return self._column(values[position - 1], scope)
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


def _output_values(scope: Scope) -> list[Any] | None:
    outputs = output_columns(scope)
    return None if outputs is None else [value for _, value in outputs]


def output_columns(scope: Scope) -> list[tuple[str | None, Any]] | None:
    """The select list's names and expressions with ``*`` and ``t.*`` expanded to the
    columns they stand for, in the server's order (what ``ORDER BY 2`` counts in); None
    when a star reaches something whose columns are not known. A name is None where the
    server would make one up (``?column?``, a function's name)."""
    values: list[tuple[str | None, Any]] = []
    for target in scope.targets:
        value = target.val
        fields = value.fields or () if isinstance(value, ast.ColumnRef) else ()
        if not fields or not isinstance(fields[-1], ast.A_Star):
            name = target.name
            if name is None and fields and isinstance(fields[-1], ast.String):
                name = fields[-1].sval
            values.append((name, value))
            continue
        if len(fields) == 1:
            if scope.merged_join:
                return None
            rels = list(scope.rels)
        else:
            qualifier = fields[-2].sval if isinstance(fields[-2], ast.String) else None
            rels = [r for r in scope.rels if r.name == qualifier]
        if not rels:
            return None
        for rel in rels:
            if rel.order is None:
                return None
            for column in rel.order:
                names = (ast.String(sval=rel.name), ast.String(sval=column))
                values.append((column, ast.ColumnRef(fields=names)))
    return values
