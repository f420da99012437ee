"""The write statements of a PostgreSQL workload: which table each writes, and how.

An index's upkeep is paid by the INSERTs on its table and by the UPDATEs that are not HOT
(``dbtop.analysis.advisor.writes``); this finds, for each INSERT, UPDATE, DELETE or MERGE of
the workload, the table it writes (resolved like the statements it reads: schema, the
search_path) and the columns an UPDATE sets. ``INSERT … ON CONFLICT DO UPDATE`` and MERGE
count as INSERTs (both add rows; their updates are not told apart).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pglast import ast, parse_sql
from pglast.parser import ParseError

from dbtop.analysis.advisor import TableRef
from dbtop.analysis.advisor.writes import TableWrites, Write
from dbtop.engines.postgresql.workload import Catalog

_KINDS: tuple[tuple[type, str], ...] = (
    (ast.InsertStmt, "INSERT"),
    (ast.MergeStmt, "INSERT"),
    (ast.UpdateStmt, "UPDATE"),
    (ast.DeleteStmt, "DELETE"),
)


def write_of(
    sql: str, catalog: Catalog, user: str | None
) -> tuple[TableRef, str, frozenset[str]] | None:
    """The table a write statement writes, its kind and the columns an UPDATE sets; None
    for anything else (or a table of no interest: a view, a catalog)."""
    try:
        stmts = parse_sql(sql)
    except (ParseError, ValueError):
        return None
    if len(stmts) != 1:
        return None
    stmt: Any = stmts[0].stmt
    kind = next((name for cls, name in _KINDS if isinstance(stmt, cls)), None)
    relation = getattr(stmt, "relation", None)
    if kind is None or not isinstance(relation, ast.RangeVar):
        return None
    info = catalog.resolve(relation.schemaname, str(relation.relname), user)
    if info is None or info.view is not None:
        return None
    columns: frozenset[str] = frozenset()
    if kind == "UPDATE":
        columns = frozenset(
            str(t.name) for t in stmt.targetList or () if isinstance(t, ast.ResTarget) and t.name
        )
    return info.table, kind, columns


def table_writes(
    found: Iterable[tuple[str, int, float, tuple[TableRef, str, frozenset[str]]]],
) -> dict[TableRef, TableWrites]:
    """``(statement id, calls, total ms, write_of(…))`` grouped by table."""
    by_table: dict[TableRef, list[Write]] = {}
    for query_id, calls, total_ms, (table, kind, columns) in found:
        by_table.setdefault(table, []).append(Write(query_id, kind, calls, total_ms, columns))
    return {table: TableWrites(table, tuple(ws)) for table, ws in by_table.items()}
