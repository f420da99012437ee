"""pg_stat_statements as Statements, whatever the extension's version.

The columns differ by the *extension's* version, not the server's (an upgraded server can
keep an old extension): 1.8 split total_time into total_exec_time + total_plan_time, 1.9
added toplevel, 1.10 the jit columns, 1.11 stats_since. The columns are read from the
catalog at connect time and the query is built from what is there.

Query texts live in a file that pg_stat_statements re-reads whole for every call with
texts, so a poll reads the counters only (``pg_stat_statements(false)``) and fetches the
texts of statements it has not seen yet, once.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from dbtop.engines.postgresql.text import decode, raw
from dbtop.model import Feature, Notice, Statement, frozen

#: statements always kept in a snapshot (by total time), besides those that just ran
TOP_N = 300
#: a statement that ran within this many seconds stays in the snapshot
RECENT_S = 120.0
TEXT_CACHE_MAX = 20000
#: the comment in the first words of every monitor query of dbtop (after the first keyword:
#: PostgreSQL 18's pg_stat_statements leaves out comments before the statement)
OWN_TAG = "/* dbtop */"
#: shown for a statement whose text could not be read (as pg's "<insufficient privilege>")
TEXT_UNAVAILABLE = "<query text unavailable>"
TEXT_RETRY_S = 60.0

#: dbtop's own statements that carry no mark, recognised by their text whoever ran them
#: (explain's generic plan: the names are dbtop's)
_OWN_ANYONE = re.compile(
    r"^do \$dbtop_do\$|dbtop\.generic_plan|^(rollback to |release )?savepoint dbtop_"
)
#: what dbtop's actions send unmarked (asyncpg's transaction(readonly=True), the kill
#: functions): its own only when dbtop's role ran it, an application's otherwise
_OWN_ROLE = re.compile(
    r"^(begin( isolation level [a-z ]+?)?( read only)?|rollback|commit"
    r"|select pg_(cancel|terminate)_backend\(\$1(, \$2)?\))$"
)


def is_own_statement(query: str, *, own_role: bool) -> bool:
    """A pg_stat_statements text dbtop itself ran: marked ``/* dbtop */`` in its first words
    (before or after the first keyword, whichever the server keeps), or one of the few
    unmarked statements dbtop's actions send, counted under dbtop's role."""
    if OWN_TAG in query[:40]:
        return True
    normal = " ".join(query.split()).rstrip(";").strip().lower()
    if _OWN_ANYONE.search(normal):
        return True
    return own_role and _OWN_ROLE.match(normal) is not None


_OPTIONAL = (
    "toplevel",
    "shared_blks_hit",
    "shared_blks_read",
    "shared_blks_dirtied",
    "temp_blks_written",
    "wal_bytes",
    "min_exec_time",
    "max_exec_time",
    "stddev_exec_time",
    "min_time",
    "max_time",
    "stddev_time",
    "total_plan_time",
    "plans",
    "jit_functions",
    "stats_since",
)


@dataclass
class StatementsSource:
    """Where pg_stat_statements is and which of its columns this installation has."""

    schema: str
    version: str
    columns: frozenset[str]
    texts: dict[tuple[Any, ...], str] = field(default_factory=dict)
    #: why the texts cannot be read right now, and when to try again (monotonic)
    text_error: str | None = None
    text_retry_at: float = 0.0
    last_calls: dict[tuple[Any, ...], tuple[int, float]] = field(default_factory=dict)

    @property
    def function(self) -> str:
        return f"{quote_ident(self.schema)}.pg_stat_statements"

    def counters_sql(self) -> str:
        total = "s.total_exec_time" if "total_exec_time" in self.columns else "s.total_time"
        mean = "s.mean_exec_time" if "mean_exec_time" in self.columns else "s.mean_time"
        optional = ", ".join(f"s.{c}" if c in self.columns else f"NULL AS {c}" for c in _OPTIONAL)
        return f"""
            SELECT /* dbtop */ s.queryid, s.dbid, s.userid, s.calls, s.rows, {total} AS total_ms,
                   {mean} AS mean_ms, {raw("d.datname", "datname")},
                   {raw("r.rolname", "rolname")},
                   s.userid = (SELECT oid FROM pg_roles WHERE rolname = current_user)
                       AS own_role,
                   {optional}
            FROM {self.function}(false) s
            LEFT JOIN pg_database d ON d.oid = s.dbid
            LEFT JOIN pg_roles r ON r.oid = s.userid
        """

    def texts_sql(self) -> str:
        toplevel = "s.toplevel" if "toplevel" in self.columns else "NULL AS toplevel"
        return f"""
            SELECT /* dbtop */ s.queryid, s.dbid, s.userid, {toplevel},
                   {raw("s.query", "query")}
            FROM {self.function}(true) s
            WHERE s.queryid = ANY($1::bigint[])
        """


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _key(row: asyncpg.Record) -> tuple[Any, ...]:
    return (row["queryid"], row["dbid"], row["userid"], row["toplevel"])


def _id(key: tuple[Any, ...]) -> str:
    queryid, dbid, userid, toplevel = key
    text = f"{queryid}:{dbid}:{userid}"
    return text if toplevel in (None, True) else f"{text}:nested"


async def detect(conn: asyncpg.Connection) -> tuple[StatementsSource | None, Notice | None]:
    """Find pg_stat_statements in the connected database, or say what is missing."""
    row = await conn.fetchrow(
        """
        SELECT e.extversion, n.nspname
        FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
        WHERE e.extname = 'pg_stat_statements'
        """
    )
    if row is None:
        available = await conn.fetchval(
            "SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_stat_statements'"
        )
        hint = (
            "run CREATE EXTENSION pg_stat_statements in this database (and add it to "
            "shared_preload_libraries if it is not there yet)"
            if available
            else "install the PostgreSQL contrib package, add pg_stat_statements to "
            "shared_preload_libraries, restart, then CREATE EXTENSION pg_stat_statements"
        )
        return None, Notice(
            Feature.STATEMENTS, "pg_stat_statements is not installed in this database", hint
        )
    columns = await conn.fetch(
        """
        SELECT a.attname FROM pg_attribute a
        WHERE a.attrelid = (quote_ident($1) || '.pg_stat_statements')::regclass
          AND a.attnum > 0 AND NOT a.attisdropped
        """,
        row["nspname"],
    )
    source = StatementsSource(
        schema=row["nspname"],
        version=row["extversion"],
        columns=frozenset(r["attname"] for r in columns),
    )
    try:
        await conn.fetchval(f"SELECT count(*) FROM {source.function}(false)")
    except asyncpg.ObjectNotInPrerequisiteStateError:
        return None, Notice(
            Feature.STATEMENTS,
            "pg_stat_statements is installed but not loaded",
            "add pg_stat_statements to shared_preload_libraries and restart the server",
        )
    except asyncpg.InsufficientPrivilegeError as exc:
        return None, Notice(
            Feature.STATEMENTS,
            f"cannot read pg_stat_statements: {exc}",
            "GRANT pg_read_all_stats (or pg_monitor) TO the monitoring role",
        )
    return source, None


async def fetch_statements(
    conn: asyncpg.Connection, source: StatementsSource
) -> tuple[Statement, ...]:
    rows = await conn.fetch(source.counters_sql())
    now = time.monotonic()
    ranked = sorted(rows, key=lambda r: r["total_ms"] or 0.0, reverse=True)
    keep: list[asyncpg.Record] = []
    seen: dict[tuple[Any, ...], tuple[int, float]] = {}
    for rank, row in enumerate(ranked):
        key = _key(row)
        calls = row["calls"]
        previous = source.last_calls.get(key)
        last_change = now if previous is None or previous[0] != calls else previous[1]
        if previous is None and rank >= TOP_N:
            # First sight of a statement outside the top: it did not "just run".
            last_change = now - RECENT_S - 1
        seen[key] = (calls, last_change)
        if rank < TOP_N or now - last_change <= RECENT_S:
            keep.append(row)
    source.last_calls = seen
    missing = [_key(r) for r in keep if _key(r) not in source.texts]
    if missing and now >= source.text_retry_at:
        await _fetch_texts(conn, source, {k[0] for k in missing if k[0] is not None})
    # dbtop's own queries and actions are not the workload being tuned (issue 12).
    return tuple(
        _statement(row, source)
        for row in keep
        if not is_own_statement(
            source.texts.get(_key(row), TEXT_UNAVAILABLE), own_role=bool(row["own_role"])
        )
    )


async def _fetch_texts(
    conn: asyncpg.Connection, source: StatementsSource, queryids: Iterable[int]
) -> None:
    if len(source.texts) > TEXT_CACHE_MAX:
        source.texts.clear()
    try:
        rows = await conn.fetch(source.texts_sql(), list(queryids))
    except (asyncpg.CharacterNotInRepertoireError, asyncpg.UntranslatableCharacterError) as exc:
        # pg_stat_statements converts every stored text to this database's encoding before
        # any WHERE applies, so one text from a SQL_ASCII or LATIN1 database that is not
        # valid here fails the whole read. The counters still come; the texts wait.
        source.text_error = str(exc)
        source.text_retry_at = time.monotonic() + TEXT_RETRY_S
        return
    source.text_error = None
    for row in rows:
        source.texts[_key(row)] = decode(row["query"]) or ""


def text_notice(source: StatementsSource) -> Notice | None:
    if source.text_error is None:
        return None
    return Notice(
        Feature.STATEMENTS,
        "pg_stat_statements holds a query text that is not valid in this database's "
        f"encoding, so no texts can be read ({source.text_error}); counters are shown",
        "connect to a database with the same encoding as the one that ran it, or clear "
        "the texts with SELECT pg_stat_statements_reset()",
    )


def _statement(row: asyncpg.Record, source: StatementsSource) -> Statement:
    key = _key(row)
    extra = {
        "queryid": row["queryid"],
        "dbid": row["dbid"],
        "userid": row["userid"],
        "toplevel": row["toplevel"],
        "shared_blks_hit": row["shared_blks_hit"],
        "shared_blks_read": row["shared_blks_read"],
        "shared_blks_dirtied": row["shared_blks_dirtied"],
        "temp_blks_written": row["temp_blks_written"],
        "wal_bytes": int(row["wal_bytes"]) if row["wal_bytes"] is not None else None,
        "min_ms": row["min_exec_time"] if row["min_exec_time"] is not None else row["min_time"],
        "max_ms": row["max_exec_time"] if row["max_exec_time"] is not None else row["max_time"],
        "stddev_ms": (
            row["stddev_exec_time"] if row["stddev_exec_time"] is not None else row["stddev_time"]
        ),
        "total_plan_ms": row["total_plan_time"],
        "plans": row["plans"],
        "stats_since": row["stats_since"],
    }
    return Statement(
        id=_id(key),
        query=source.texts.get(key, TEXT_UNAVAILABLE),
        calls=row["calls"],
        total_ms=float(row["total_ms"] or 0.0),
        mean_ms=float(row["mean_ms"]) if row["mean_ms"] is not None else None,
        rows=row["rows"],
        user=decode(row["rolname"]),
        database=decode(row["datname"]),
        extra=frozen({k: v for k, v in extra.items() if v is not None}),
        counters=frozen(
            {
                name: float(extra[name])
                for name in (
                    "shared_blks_hit",
                    "shared_blks_read",
                    "shared_blks_dirtied",
                    "temp_blks_written",
                    "wal_bytes",
                )
                if extra[name] is not None
            }
        ),
    )
