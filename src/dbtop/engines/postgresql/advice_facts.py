"""The facts PostgreSQL index advice is built from, read from the server and parsed.

``build_workload(conn, statements, sessions)`` reads the server's facts (database,
search_path, version, hypopg), turns the statements and running sessions into ``Item``s,
parses each with pglast (``workload.py``), reads the statistics and indexes of the tables
they reach (pg_class, pg_stats, pg_index) and returns the advisor's ``Workload``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import asyncpg

from dbtop.analysis.advisor import (
    AdvisorSettings,
    QueryInfo,
    TableRef,
    WorkItem,
    Workload,
)
from dbtop.engines.postgresql.advice_catalog import read_catalog
from dbtop.engines.postgresql.workload import (
    NotAnalyzable,
    NothingToIndex,
    analyze,
    is_own,
    param_count,
    relation_names,
)
from dbtop.engines.postgresql.writes import table_writes, write_of
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
    #: the row estimates of the partitions of the partitioned tables reached
    leaf_rows: Mapping[TableRef, float] = field(default_factory=dict)


def default_settings(version: int) -> AdvisorSettings:
    """INCLUDE exists from PostgreSQL 11."""
    return AdvisorSettings(covering="include" if version >= 110000 else "none")


async def build_workload(
    conn: asyncpg.Connection,
    statements: Sequence[Statement],
    sessions: Sequence[Session] = (),
    recorded_ms: float | None = None,
    period_s: float | None = None,
) -> BuiltWorkload:
    """The statements of ``conn``'s database, parsed and resolved, with their tables' facts
    (``period_s``: the seconds the statements' counters cover, for their calls/s)."""
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
    names = {name for _, rels in parsed for _, name in rels}
    read = await read_catalog(conn, names, server.search_path, server.version)
    catalog, facts = read.catalog, read.facts
    queries: list[QueryInfo] = []
    found_writes = []
    for item, _names in parsed:
        target = write_of(item.text, catalog, item.user)
        if target is not None and item.source != "session":
            found_writes.append((item.id, item.calls, item.total_ms, target))
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
    workload = Workload(
        tuple(queries),
        facts,
        total_ms=total_ms,
        parents=read.parents,
        writes=table_writes(found_writes),
        period_s=period_s,
    )
    return BuiltWorkload(
        server, workload, tuple(items), skipped, not_indexable, leaf_rows=read.leaf_rows
    )


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
