"""PostgreSQL statements into the advisor's access patterns, with the real parser (pglast).

Names are resolved the way the server does: aliases in the statement's scopes (innermost
first, so correlated subqueries see their outer tables), CTE names before tables, and
unqualified tables through the search_path (``$user`` being the statement's role). Joins
(``ON`` and ``USING``), subqueries in FROM, WHERE and the select list, CTEs, set operations,
UPDATE / DELETE / INSERT … SELECT are walked; ``$n`` parameters are ordinary values.

What a plain btree index cannot use is left out on purpose: expressions on the column side
(``lower(email) = $1``, ``col::date = $1``), OR of different columns, LIKE, ``<>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pglast import ast, parse_sql
from pglast.parser import ParseError

from dbtop.analysis.advisor import TableAccess, TableRef
from dbtop.engines.postgresql.access_walker import Walker, walk_nodes
from dbtop.engines.postgresql.sqlnames import MARK, is_own, quote_ident, quote_table

__all__ = [
    "MARK",
    "Catalog",
    "NotAnalyzable",
    "NothingToIndex",
    "TableInfo",
    "analyze",
    "is_own",
    "param_count",
    "quote_ident",
    "quote_table",
    "relation_names",
]


class NotAnalyzable(Exception):
    """The statement cannot be analyzed (not a query, or not parseable); str is why."""


class NothingToIndex(NotAnalyzable):
    """A statement no index can help (a utility command, INSERT … VALUES): left out of the
    advice without a word, unlike a query that could not be parsed."""


_QUERIES = (ast.SelectStmt, ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt, ast.MergeStmt)


@dataclass(frozen=True, slots=True)
class TableInfo:
    """What resolution needs of one table: its name and its columns (``order``: as ``*``
    lists them, when known)."""

    table: TableRef
    columns: frozenset[str]
    order: tuple[str, ...] = ()
    #: a view's query (parsed), replaced for it where it is read
    view: Any = None


class Catalog:
    """The tables statements may reach, and the search_path that finds unqualified ones."""

    def __init__(
        self,
        tables: Sequence[TableInfo],
        search_path: Sequence[str],
        *,
        inline_ctes: bool = True,
    ) -> None:
        #: the planner inlines CTEs referenced once (PostgreSQL 12+)
        self.inline_ctes = inline_ctes
        self._by_name: dict[str, list[TableInfo]] = {}
        self._by_ref: dict[TableRef, TableInfo] = {}
        for info in tables:
            self._by_name.setdefault(info.table.name, []).append(info)
            self._by_ref[info.table] = info
        self.search_path = tuple(search_path)

    def resolve(self, schema: str | None, name: str, user: str | None) -> TableInfo | None:
        if schema is not None:
            return self._by_ref.get(TableRef(schema, name))
        found = self._by_name.get(name, [])
        for entry in self.search_path:
            wanted = user if entry == "$user" else entry
            for info in found:
                if info.table.schema == wanted:
                    return info
        return None


def relation_names(sql: str) -> set[tuple[str | None, str]]:
    """Every (schema, name) a statement mentions in FROM / UPDATE / DELETE / INSERT, CTE
    names included; raises NotAnalyzable when it does not parse."""
    names: set[tuple[str | None, str]] = set()
    (stmt,) = _parse(sql)
    if not isinstance(stmt, _QUERIES):
        raise NothingToIndex(f"{type(stmt).__name__} is not a query")
    for node in walk_nodes(stmt):
        if isinstance(node, ast.RangeVar):
            names.add((node.schemaname, str(node.relname)))
    return names


def param_count(sql: str) -> int:
    """The highest ``$n`` of a statement (what EXECUTE must be given)."""
    numbers = [n.number or 0 for n in walk_nodes(_parse(sql)) if isinstance(n, ast.ParamRef)]
    return max(numbers, default=0)


def _parse(sql: str) -> tuple[Any, ...]:
    try:
        stmts = parse_sql(sql)
    except ParseError as err:
        raise NotAnalyzable(f"does not parse: {err}") from None
    if len(stmts) != 1:
        raise NotAnalyzable("holds several statements" if stmts else "is empty")
    return (stmts[0].stmt,)


def analyze(sql: str, catalog: Catalog, user: str | None = None) -> tuple[TableAccess, ...]:
    """The statement's access to each table occurrence it reaches.

    Raises NotAnalyzable (with the reason) for statements an index cannot help: utility
    commands, INSERT … VALUES, text that does not parse.
    """
    (stmt,) = _parse(sql)
    walker = Walker(catalog, user)
    if isinstance(stmt, ast.SelectStmt):
        walker.select(stmt, None, {})
    elif isinstance(stmt, ast.UpdateStmt | ast.DeleteStmt):
        walker.modify(stmt)
    elif isinstance(stmt, ast.MergeStmt):
        walker.merge(stmt)
    elif isinstance(stmt, ast.InsertStmt) and stmt.selectStmt is not None:
        ctes = walker.ctes_of(stmt, None, {})
        if isinstance(stmt.selectStmt, ast.SelectStmt) and not stmt.selectStmt.valuesLists:
            walker.select(stmt.selectStmt, None, ctes)
        else:
            raise NothingToIndex("an INSERT … VALUES reads no table")
    elif isinstance(stmt, ast.InsertStmt):
        raise NothingToIndex("an INSERT … DEFAULT VALUES reads no table")
    else:
        raise NothingToIndex(f"{type(stmt).__name__} is not a query")
    return tuple(acc.build() for acc in walker.accesses)
