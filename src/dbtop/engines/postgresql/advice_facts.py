"""The facts PostgreSQL index advice is built from, read from the server and parsed.

``build_workload(conn, statements, sessions)`` reads the server's facts (database,
search_path, version, hypopg), turns the statements and running sessions into ``Item``s,
parses each with pglast (``workload.py``), reads the statistics and indexes of the tables
they reach (pg_class, pg_stats, pg_index) and returns the advisor's ``Workload``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import asyncpg
from pglast import ast, parse_sql
from pglast.enums import BoolExprType
from pglast.parser import ParseError
from pglast.stream import RawStream

from dbtop.analysis.advisor import (
    AdvisorSettings,
    ColumnFacts,
    ExistingIndex,
    QueryInfo,
    TableFacts,
    TableRef,
    WorkItem,
    Workload,
)
from dbtop.engines.postgresql.workload import (
    Catalog,
    NotAnalyzable,
    NothingToIndex,
    TableInfo,
    analyze,
    is_own,
    param_count,
    relation_names,
)
from dbtop.model import Session, Statement


@dataclass(frozen=True, slots=True)
class Item(WorkItem):
    """A statement of the workload before parsing, with the role that ran it."""

    user: str | None


@dataclass(frozen=True, slots=True)
class ServerFacts:
    database: str
    search_path: tuple[str, ...]
    version: int
    hypopg: str | None
    hypopg_available: bool


@dataclass(frozen=True, slots=True)
class BuiltWorkload:
    server: ServerFacts
    workload: Workload
    #: every statement considered, and those that could not be analyzed (with why)
    items: tuple[Item, ...]
    skipped: list[tuple[Item, str]]
    #: statements no index can help (utility commands, INSERT … VALUES)
    not_indexable: int = 0


def default_settings(version: int) -> AdvisorSettings:
    """INCLUDE exists from PostgreSQL 11."""
    return AdvisorSettings(covering="include" if version >= 110000 else "none")


async def build_workload(
    conn: asyncpg.Connection,
    statements: Sequence[Statement],
    sessions: Sequence[Session] = (),
    recorded_ms: float | None = None,
) -> BuiltWorkload:
    """The statements of ``conn``'s database, parsed and resolved, with their tables' facts."""
    row = await conn.fetchrow(
        """
        SELECT /* dbtop */ current_database() AS db,
               current_setting('search_path') AS search_path,
               current_setting('server_version_num')::int AS version,
               (SELECT extversion FROM pg_extension WHERE extname = 'hypopg') AS hypopg,
               EXISTS (SELECT FROM pg_available_extensions WHERE name = 'hypopg')
                   AS hypopg_available
        """
    )
    server = ServerFacts(
        database=row["db"],
        search_path=tuple(_search_path(row["search_path"])),
        version=row["version"],
        hypopg=row["hypopg"],
        hypopg_available=row["hypopg_available"],
    )
    items = _workload_items(server.database, statements, sessions)
    parsed, skipped, not_indexable = _parse_all(items)
    catalog, facts = await _catalog(conn, parsed, server.search_path)
    queries: list[QueryInfo] = []
    for item, _names in parsed:
        try:
            accesses = analyze(item.text, catalog, item.user)
        except NothingToIndex:
            not_indexable += 1
            continue
        except NotAnalyzable as err:
            skipped.append((item, str(err)))
            continue
        if not accesses:
            continue  # system catalogs, views, functions: nothing of ours to index
        queries.append(item.query(accesses, params=param_count(item.text)))
    listed_ms = sum(i.total_ms for i in items)
    # Shares are of everything pg_stat_statements recorded for this database when the
    # caller knows it (the snapshot lists the top statements only), plus the running
    # sessions' time so far.
    session_ms = sum(i.total_ms for i in items if i.source == "session")
    total_ms = max(listed_ms, (recorded_ms or 0.0) + session_ms)
    workload = Workload(tuple(queries), facts, total_ms=total_ms)
    return BuiltWorkload(server, workload, tuple(items), skipped, not_indexable)


def _workload_items(
    database: str, statements: Sequence[Statement], sessions: Sequence[Session]
) -> list[Item]:
    items: list[Item] = []
    for stmt in statements:
        if stmt.database not in (None, database) or not stmt.query or stmt.total_ms <= 0:
            continue
        if is_own(stmt.query):
            continue  # the advisor's own EXPLAINs and catalog reads of an earlier run
        items.append(Item.of(stmt, "statements", user=stmt.user))
    for session in sessions:
        if (
            session.is_self
            or session.is_idle
            or not session.query
            or session.database not in (None, database)
            or (session.kind not in (None, "client backend"))
        ):
            continue
        # a running query weighs what it has cost so far
        duration_ms = max((session.duration_s or 0.0) * 1000.0, 1.0)
        items.append(
            Item(
                id=f"session:{session.id}",
                text=session.query,
                calls=1,
                total_ms=duration_ms,
                source="session",
                user=session.user,
            )
        )
    return items


def _parse_all(
    items: Sequence[Item],
) -> tuple[list[tuple[Item, set[tuple[str | None, str]]]], list[tuple[Item, str]], int]:
    parsed = []
    skipped = []
    not_indexable = 0
    for item in items:
        try:
            parsed.append((item, relation_names(item.text)))
        except NothingToIndex:
            not_indexable += 1
        except NotAnalyzable as err:
            skipped.append((item, str(err)))
    return parsed, skipped, not_indexable


def _search_path(setting: str) -> list[str]:
    path = []
    for part in setting.split(","):
        part = part.strip()
        if part.startswith('"') and part.endswith('"'):
            part = part[1:-1].replace('""', '"')
        if part:
            path.append(part)
    return path


# -- the catalog ----------------------------------------------------------------------------

_TABLES_SQL = """
SELECT /* dbtop */ c.oid, n.nspname, c.relname, c.reltuples::float8 AS reltuples,
       s.n_live_tup, pg_relation_size(c.oid) AS size
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
WHERE c.relkind IN ('r', 'm')
  AND c.relname = ANY($1::text[])
  AND n.nspname <> 'information_schema'
  AND n.nspname NOT LIKE 'pg\\_%'
"""

_COLUMNS_SQL = """
SELECT /* dbtop */ a.attrelid, a.attname, st.n_distinct, st.null_frac, st.avg_width,
       (st.most_common_freqs)[1] AS max_frequency
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stats st
       ON st.schemaname = n.nspname AND st.tablename = c.relname
      AND st.attname = a.attname AND NOT st.inherited
WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
"""

_INDEXES_SQL = """
SELECT /* dbtop */ i.indrelid, ic.relname AS name, am.amname, i.indisvalid, i.indisunique,
       i.indnkeyatts, i.indoption::int2[] AS options,
       ARRAY(
           SELECT a.attname
           FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
           LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
           ORDER BY k.ord
       ) AS columns,
       pg_get_expr(i.indpred, i.indrelid) AS predicate
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_am am ON am.oid = ic.relam
WHERE i.indrelid = ANY($1::oid[])
"""


async def _catalog(
    conn: asyncpg.Connection,
    parsed: Sequence[tuple[Item, set[tuple[str | None, str]]]],
    search_path: Sequence[str],
) -> tuple[Catalog, dict[TableRef, TableFacts]]:
    names = sorted({name for _, rels in parsed for _, name in rels})
    if not names:
        return Catalog((), search_path), {}
    tables = await conn.fetch(_TABLES_SQL, names)
    oids = [row["oid"] for row in tables]
    columns: dict[int, dict[str, ColumnFacts]] = {oid: {} for oid in oids}
    for row in await conn.fetch(_COLUMNS_SQL, oids):
        columns[row["attrelid"]][row["attname"]] = ColumnFacts(
            name=row["attname"],
            n_distinct=row["n_distinct"],
            null_frac=row["null_frac"] or 0.0,
            avg_width=row["avg_width"],
            max_frequency=row["max_frequency"],
        )
    refs = {row["oid"]: TableRef(row["nspname"], row["relname"]) for row in tables}
    existing: dict[int, list[ExistingIndex]] = {oid: [] for oid in oids}
    for row in await conn.fetch(_INDEXES_SQL, oids):
        keys = row["indnkeyatts"]
        cols = tuple(row["columns"])
        options = tuple(row["options"] or ())
        existing[row["indrelid"]].append(
            ExistingIndex(
                name=row["name"],
                table=refs[row["indrelid"]],
                columns=cols[:keys],
                include=tuple(c for c in cols[keys:] if c is not None),
                descending=tuple(bool(o & 1) for o in options[:keys]),
                where=predicate_conjuncts(row["predicate"]),
                method=row["amname"],
                valid=row["indisvalid"],
                unique=row["indisunique"],
            )
        )
    facts: dict[TableRef, TableFacts] = {}
    infos = []
    for row in tables:
        ref = refs[row["oid"]]
        rows = row["reltuples"]
        if rows is None or rows < 0:  # never analyzed: the live-tuple counter is all we have
            rows = float(row["n_live_tup"] or 0)
        facts[ref] = TableFacts(
            table=ref,
            rows=rows,
            size_bytes=row["size"],
            columns=columns[row["oid"]],
            indexes=tuple(existing[row["oid"]]),
        )
        infos.append(TableInfo(ref, frozenset(columns[row["oid"]])))
    return Catalog(infos, search_path), facts


def predicate_conjuncts(predicate: str | None) -> tuple[str, ...]:
    """A partial index's predicate as the conjuncts the workload parser writes."""
    if not predicate:
        return ()
    try:
        (raw,) = parse_sql(f"SELECT WHERE {predicate}")
    except (ParseError, ValueError):
        return (predicate,)
    where = cast(ast.SelectStmt, raw.stmt).whereClause
    parts = (
        where.args or ()
        if isinstance(where, ast.BoolExpr) and where.boolop == BoolExprType.AND_EXPR
        else (where,)
    )
    return tuple(sorted(str(RawStream()(part)) for part in parts))
