"""Statements as the advisor's access patterns, parsed with sqlglot's MySQL dialect.

Digest texts have ``?`` for values and ``(...)`` for IN lists; both are made parseable.
Each SELECT scope (the statement, its subqueries, the SELECT of INSERT … SELECT, the rows an
UPDATE or DELETE finds) gives one ``TableAccess`` per table it reads: equality (``=``,
``<=>``, ``IS NULL``: MySQL looks all of them up through an index), ranges (``<``, ``>``,
``BETWEEN``, ``LIKE 'prefix%'``), joins, IN lists, ORDER BY … LIMIT and GROUP BY. MySQL has
no partial indexes, so constant predicates are not collected.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import cast

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from dbtop.analysis.advisor import SortKey, TableAccess, TableRef
from dbtop.analysis.advisor.access import AccessBuilder

_ELLIPSIS_LIST = re.compile(r"\(\s*\.\.\.\s*\)")
_VALUES_TAIL = re.compile(r"/\*\s*,\s*\.\.\.\s*\*/")


class NotAnalyzable(Exception):
    """The statement cannot be turned into access patterns; the message says why."""


def digest_to_sql(text: str) -> str:
    """A digest's text made parseable: ``IN (...)`` -> ``IN (?)``; truncated ones refused."""
    stripped = text.strip()
    body = _VALUES_TAIL.sub("", _ELLIPSIS_LIST.sub("(?)", stripped))
    if body.endswith("...") or body.endswith("…"):
        raise NotAnalyzable(
            "the statement text is truncated (performance_schema_max_digest_length)"
        )
    return body


def parse(text: str) -> exp.Expression:
    try:
        trees = [t for t in sqlglot.parse(digest_to_sql(text), read="mysql") if t is not None]
    except (SqlglotError, ValueError, RecursionError) as exc:
        raise NotAnalyzable(f"sqlglot cannot parse it: {str(exc).splitlines()[0][:100]}") from None
    if len(trees) != 1:
        raise NotAnalyzable("not a single statement")
    return cast(exp.Expression, trees[0])


def table_refs(tree: exp.Expression, default_schema: str | None) -> set[TableRef]:
    """Every base table the statement names (CTE names excluded)."""
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    refs = set()
    for table in tree.find_all(exp.Table):
        if not table.name or (not table.db and table.name in ctes):
            continue
        schema = table.db or default_schema
        refs.add(TableRef(schema, table.name))
    return refs


def with_values(tree: exp.Expression) -> str:
    """The statement with every ``?`` replaced by a value EXPLAIN accepts: numbers in
    LIMIT / OFFSET, the string '1' elsewhere (MySQL compares a string with a number column
    without giving up the index, but not a number with a string column)."""

    def replace(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder):
            parent = node.parent
            if isinstance(parent, exp.Limit | exp.Offset | exp.Fetch):
                return exp.Literal.number(10)
            return exp.Literal.string("1")
        return node

    return tree.copy().transform(replace).sql(dialect="mysql", identify=True)


@dataclass(frozen=True, slots=True)
class Analysis:
    accesses: tuple[TableAccess, ...]
    #: alias (or table name) -> table, for reading EXPLAIN output (which names aliases)
    aliases: Mapping[str, TableRef]


def analyze(
    tree: exp.Expression,
    default_schema: str | None,
    columns: Mapping[TableRef, frozenset[str]],
) -> Analysis:
    """Access patterns of one parsed statement; ``columns`` lists each known table's columns
    (lower-cased) to place unqualified column names."""
    accesses: list[TableAccess] = []
    aliases: dict[str, TableRef] = {}
    scopes: list[exp.Expression] = []
    if isinstance(tree, exp.Update | exp.Delete):
        scopes.append(tree)
    scopes.extend(tree.find_all(exp.Select))
    for node in scopes:
        found = _analyze_scope(node, default_schema, columns)
        accesses.extend(a.build(sort_selected=True) for a in found.values())
        for alias, access in found.items():
            aliases.setdefault(alias, access.table)
    return Analysis(tuple(accesses), aliases)


def _scope_tables(node: exp.Expression, default_schema: str | None) -> dict[str, TableRef]:
    sources: list[exp.Expression] = []
    if isinstance(node, exp.Select):
        from_ = node.args.get("from") or node.args.get("from_")
        if from_ is not None:
            sources.append(from_.this)
        for join in node.args.get("joins") or []:
            sources.append(join.this)
    else:  # UPDATE / DELETE: the target and its joins
        target = node.this
        if target is not None:
            sources.append(target)
            if isinstance(target, exp.Expression):
                sources.extend(j.this for j in target.args.get("joins") or [])
        for join in node.args.get("joins") or []:
            sources.append(join.this)
    result: dict[str, TableRef] = {}
    for source in sources:
        if isinstance(source, exp.Table) and source.name:
            ref = TableRef(source.db or default_schema, source.name)
            result[source.alias_or_name] = ref
    return result


def _joins_on(node: exp.Expression) -> list[exp.Expression]:
    conds = []
    joins = list(node.args.get("joins") or [])
    target = node.this if isinstance(node, exp.Update | exp.Delete) else None
    if isinstance(target, exp.Expression):
        joins.extend(target.args.get("joins") or [])
    for join in joins:
        on = join.args.get("on")
        if on is not None:
            conds.append(on)
    return conds


def _conjuncts(expr: exp.Expr | None) -> list[exp.Expr]:
    if expr is None:
        return []
    if isinstance(expr, exp.Where):
        expr = expr.this
    if isinstance(expr, exp.Paren):
        return _conjuncts(expr.this)
    if isinstance(expr, exp.And):
        return _conjuncts(expr.left) + _conjuncts(expr.right)
    return [expr]


def _is_value(expr: exp.Expr | None) -> bool:
    """A constant or parameter: no column of any table in it."""
    if expr is None:
        return False
    if isinstance(expr, exp.Column):
        return False
    if isinstance(expr, exp.Subquery | exp.Select):
        return False
    return not any(True for _ in expr.find_all(exp.Column))


def _analyze_scope(
    node: exp.Expression,
    default_schema: str | None,
    columns: Mapping[TableRef, frozenset[str]],
) -> dict[str, AccessBuilder]:
    tables = _scope_tables(node, default_schema)
    if not tables:
        return {}
    acc = {alias: AccessBuilder(ref) for alias, ref in tables.items()}

    def owner(column: exp.Column) -> str | None:
        qualifier = column.table
        if qualifier:
            return qualifier if qualifier in acc else None
        name = column.name.lower()
        if len(acc) == 1:
            return next(iter(acc))
        hits = [a for a, x in acc.items() if name in columns.get(x.table, frozenset())]
        return hits[0] if len(hits) == 1 else None

    def col(column: exp.Column) -> tuple[str | None, str]:
        # MySQL column names are case-insensitive: the catalog's are lower-cased too.
        return owner(column), column.name.lower()

    where = node.args.get("where")
    conds = _conjuncts(where)
    for on in _joins_on(node):
        conds.extend(_conjuncts(on))
    for cond in conds:
        _classify(cond, acc, col)

    # Columns this scope reads (its own level only; subqueries are scopes of their own).
    for column in _own_columns(node):
        alias, name = col(column)
        if alias is not None:
            acc[alias].read[name] = None
    if isinstance(node, exp.Select):
        for projection in node.expressions:
            if isinstance(projection, exp.Star):
                for a in acc.values():
                    a.star = True
            elif (
                isinstance(projection, exp.Column)
                and isinstance(projection.this, exp.Star)
                and projection.table in acc
            ):
                acc[projection.table].star = True
        limit = node.args.get("limit") is not None
        order = node.args.get("order")
        if order is not None:
            keys: list[tuple[str | None, SortKey]] = []
            for ordered in order.expressions:
                target = ordered.this
                if not isinstance(target, exp.Column):
                    keys = []
                    break
                alias, name = col(target)
                keys.append((alias, SortKey(name, bool(ordered.args.get("desc")))))
            owners = {a for a, _ in keys}
            if keys and len(owners) == 1 and None not in owners:
                only = acc[cast(str, next(iter(owners)))]
                only.order_by = [k for _, k in keys]
                only.limit = limit
        group = node.args.get("group")
        if group is not None:
            for target in group.expressions:
                if isinstance(target, exp.Column):
                    alias, name = col(target)
                    if alias is not None:
                        acc[alias].group_by.append(name)
    else:  # UPDATE / DELETE change whole rows
        for a in acc.values():
            a.star = True
    return acc


def _own_columns(node: exp.Expression) -> list[exp.Column]:
    found = []
    for column in node.find_all(exp.Column):
        if isinstance(column.this, exp.Star):
            continue
        scope = column.find_ancestor(exp.Select, exp.Update, exp.Delete)
        if scope is node:
            found.append(column)
    return found


def _classify(
    cond: exp.Expr,
    acc: dict[str, AccessBuilder],
    col: Callable[[exp.Column], tuple[str | None, str]],
) -> None:
    if isinstance(cond, exp.EQ | exp.NullSafeEQ):
        left, right = cond.left, cond.right
        if isinstance(left, exp.Column) and isinstance(right, exp.Column):
            la, ln = col(left)
            ra, rn = col(right)
            if la is not None and ra is not None and la != ra:
                acc[la].join.append(ln)
                acc[ra].join.append(rn)
            return
        for column, other in ((left, right), (right, left)):
            if isinstance(column, exp.Column) and _is_value(other):
                alias, name = col(column)
                if alias is not None:
                    acc[alias].equality.append(name)
                return
        return
    if isinstance(cond, exp.Is) and isinstance(cond.this, exp.Column):
        if isinstance(cond.expression, exp.Null):
            alias, name = col(cond.this)
            if alias is not None:
                acc[alias].equality.append(name)
        return
    if isinstance(cond, exp.GT | exp.GTE | exp.LT | exp.LTE):
        for column, other in ((cond.left, cond.right), (cond.right, cond.left)):
            if isinstance(column, exp.Column) and _is_value(other):
                alias, name = col(column)
                if alias is not None:
                    acc[alias].range.append(name)
                return
        return
    if isinstance(cond, exp.Between) and isinstance(cond.this, exp.Column):
        if _is_value(cond.args.get("low")) and _is_value(cond.args.get("high")):
            alias, name = col(cond.this)
            if alias is not None:
                acc[alias].range.append(name)
        return
    if isinstance(cond, exp.In) and isinstance(cond.this, exp.Column):
        values = cond.expressions
        if values and all(_is_value(v) for v in values):
            alias, name = col(cond.this)
            if alias is not None:
                if len(values) == 1 and not isinstance(values[0], exp.Placeholder):
                    acc[alias].equality.append(name)
                else:
                    acc[alias].in_list.append(name)
        return
    if isinstance(cond, exp.Like) and isinstance(cond.this, exp.Column):
        pattern = cond.expression
        prefix = isinstance(pattern, exp.Placeholder) or (
            isinstance(pattern, exp.Literal)
            and pattern.is_string
            and not str(pattern.this).startswith(("%", "_"))
        )
        if prefix:
            alias, name = col(cond.this)
            if alias is not None:
                acc[alias].range.append(name)
