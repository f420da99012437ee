"""The advisor's workload: this database's statements from pg_stat_statements.

The snapshot keeps the statements that weigh most on the whole server, so on a shared
server a database's own smaller statements may be missing from it; the advisor reads the
top ``LIMIT`` statements of the connected database instead, with their texts (once per
run, not per poll), and the total time of everything recorded for the database, its own
statements (``/* dbtop */``) left out. Nested statements (run inside functions, with
``pg_stat_statements.track = all``) are part of the workload, but only top-level ones count
in the total, which they are already part of.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from dbtop.engines.postgresql.workload import MARK, quote_ident
from dbtop.model import Statement, frozen

#: statements the advisor reads, the most time first
LIMIT = 500


@dataclass(frozen=True, slots=True)
class Recorded:
    statements: tuple[Statement, ...]
    #: execution time of every top-level statement of the database, dbtop's own left out
    total_ms: float | None
    #: seconds the counters cover: since pg_stat_statements was reset (14+), or since the
    #: server started (older: the reset is not known, so calls/s are a lower bound)
    period_s: float | None = None


async def recorded_workload(conn: asyncpg.Connection, limit: int = LIMIT) -> Recorded | None:
    """The database's top statements and total time; None when pg_stat_statements cannot be
    read here (not created in this database, not loaded, no privilege)."""
    try:
        async with conn.transaction(readonly=True):
            schema = await conn.fetchval(
                "SELECT /* dbtop */ n.nspname FROM pg_extension e "
                "JOIN pg_namespace n ON n.oid = e.extnamespace "
                "WHERE e.extname = 'pg_stat_statements'"
            )
            if schema is None:
                return None
            view = f"{quote_ident(schema)}.pg_stat_statements"
            columns = {
                row["attname"]
                for row in await conn.fetch(
                    "SELECT /* dbtop */ attname FROM pg_attribute "
                    "WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped",
                    view,
                )
            }
            rows = await conn.fetch(_sql(view, columns), limit)
            info = f"{quote_ident(schema)}.pg_stat_statements_info"
            period = await conn.fetchval(
                "SELECT /* dbtop */ extract(epoch FROM now() - pg_postmaster_start_time())::float8"
                if not await conn.fetchval("SELECT /* dbtop */ to_regclass($1)", info)
                else f"SELECT /* dbtop */ extract(epoch FROM now() - stats_reset)::float8 "
                f"FROM {info}"
            )
    except asyncpg.PostgresError:
        return None
    database = await conn.fetchval("SELECT /* dbtop */ current_database()")
    statements = tuple(_statement(row, database) for row in rows)
    total = rows[0]["all_ms"] if rows else 0.0
    return Recorded(statements, float(total) if total is not None else None, period)


def _sql(view: str, columns: set[str]) -> str:
    total = "s.total_exec_time" if "total_exec_time" in columns else "s.total_time"
    toplevel = "s.toplevel" if "toplevel" in columns else "true"
    own = f"s.query LIKE '%{MARK.strip()}%'"
    return f"""
        SELECT /* dbtop */ s.queryid, s.dbid, s.userid, {toplevel} AS toplevel, s.query, s.calls,
               {total} AS total_ms, r.rolname,
               sum({total}) FILTER (WHERE {toplevel} AND NOT {own}) OVER () AS all_ms
        FROM {view} s
        LEFT JOIN pg_roles r ON r.oid = s.userid
        WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
        ORDER BY {total} DESC
        LIMIT $1
        """


def _statement(row: asyncpg.Record, database: str) -> Statement:
    # the same id as the snapshot's statements, so the two can be matched
    ident = f"{row['queryid']}:{row['dbid']}:{row['userid']}"
    if row["toplevel"] is False:
        ident += ":nested"
    calls = int(row["calls"] or 0)
    total = float(row["total_ms"] or 0.0)
    return Statement(
        id=ident,
        query=row["query"] or "",
        calls=calls,
        total_ms=total,
        mean_ms=total / calls if calls else None,
        user=row["rolname"],
        database=database,
        extra=frozen(queryid=row["queryid"], dbid=row["dbid"], userid=row["userid"]),
    )
