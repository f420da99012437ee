"""The figures PostgreSQL's health checks need, read cheaply on the monitor connection.

Shared-memory views (horizon holders, slots, replicas, prepared transactions) are read
every LIVE_S; catalog reads (database and table ages, sequences, dead rows, bloat
statistics, settings) every CATALOG_S through ``Every``. None scans a table: pg_class,
pg_stat_*, pg_sequences (one page per sequence) and pg_stats only. The monitor
connection's statement and lock timeouts bound every query. What the role may not see is
said once per read in a notice (Feature.HEALTH), with the grant that would show it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import asyncpg

from dbtop.analysis.health.postgresql import PgHealthFacts, judge
from dbtop.engines.postgresql.text import decode, raw
from dbtop.engines.refresh import Every
from dbtop.model import Feature, Finding, Notice, Session

LIVE_S = 10.0
CATALOG_S = 60.0
#: the oldest this many tables by xid age, the most dead rows, the biggest for bloat
TOP_TABLES = 10

SETTINGS = (
    "autovacuum",
    "autovacuum_freeze_max_age",
    "autovacuum_vacuum_threshold",
    "autovacuum_vacuum_scale_factor",
    "max_wal_size",
    "superuser_reserved_connections",
    "hot_standby_feedback",
)

SETTINGS_SQL = "SELECT /* dbtop */ name, setting FROM pg_settings WHERE name = ANY($1::text[])"

# Every name is read as bytes (text.py): a name holding bytes invalid in UTF-8 (a SQL_ASCII
# database) must not fail the read.
DATABASES_SQL = f"""SELECT /* dbtop */ {raw("datname", "datname")}, age(datfrozenxid) AS xid_age,
  temp_files, temp_bytes
FROM pg_database d LEFT JOIN pg_stat_database s USING (datname)
WHERE datallowconn ORDER BY age(datfrozenxid) DESC"""

# A table named with its schema, always: the object is then the same in every finding
# (vacuum_overdue names pg_stat_user_tables' schema and relname) and a statement to copy
# means the same table whatever the search_path of the session it is pasted in (regclass
# text drops the schema of a table the monitor's own search_path sees).
QUALIFIED = "format('%I.%I', n.nspname, c.relname)"

TABLES_AGE_SQL = f"""SELECT /* dbtop */ {raw(QUALIFIED, "relation")},
  age(c.relfrozenxid) AS xid_age
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'm', 't') AND c.relfrozenxid <> '0'::xid
ORDER BY age(c.relfrozenxid) DESC LIMIT {TOP_TABLES}"""

# Who holds the xmin horizon back: each holder with its age in xids (and seconds where the
# server says when it began). A session holds it by its snapshot (backend_xmin) or by its
# own xid: a transaction that wrote and sits idle in READ COMMITTED has no snapshot, so no
# backend_xmin, and is the very holder every other snapshot inherits its xmin from.
# At equal age the holders whose age is their own xid come first: a busy session's
# snapshot xmin is the oldest running xid (a prepared transaction's, a writer's), as old as
# it, and five of them would push the real holder out of the list.
# A slot says whether its consumer is connected (a standby's hot_standby_feedback xmin
# lands in its slot, not on its walsender, when it streams through one).
# Autovacuum workers are left out: the server leaves vacuum's xmin out of the horizon
# (PROC_IN_VACUUM), theirs is a copy of someone else's, and terminating an
# anti-wraparound vacuum is the worst advice to give.
HORIZON_SQL = f"""SELECT /* dbtop */ holder, {raw("who", "who")}, xid_age, age_s, active FROM (
  SELECT 'session' AS holder, pid::text AS who,
    greatest(age(backend_xmin), age(backend_xid)) AS xid_age,
    extract(epoch FROM now() - coalesce(xact_start, query_start))::float8 AS age_s,
    NULL::bool AS active,
    backend_xid IS NOT NULL AND (backend_xmin IS NULL OR age(backend_xid) >= age(backend_xmin))
      AS own
  FROM pg_stat_activity
  WHERE (backend_xmin IS NOT NULL OR backend_xid IS NOT NULL) AND pid <> pg_backend_pid()
    AND backend_type NOT IN ('walsender', 'autovacuum worker')
  UNION ALL
  SELECT 'slot', slot_name::text, greatest(age(xmin), age(catalog_xmin)), NULL, active, true
  FROM pg_replication_slots WHERE xmin IS NOT NULL OR catalog_xmin IS NOT NULL
  UNION ALL
  SELECT 'prepared', gid, age(transaction), extract(epoch FROM now() - prepared)::float8, NULL,
    true
  FROM pg_prepared_xacts
  UNION ALL
  SELECT 'standby', coalesce(nullif(application_name, ''), client_addr::text, pid::text),
    age(backend_xmin), NULL, NULL, true
  FROM pg_stat_replication WHERE backend_xmin IS NOT NULL
) h ORDER BY xid_age DESC, own DESC LIMIT 5"""


def slots_sql(version_num: int) -> str:
    status = "wal_status" if version_num >= 130000 else "NULL::text AS wal_status"
    return f"""SELECT /* dbtop */ {raw("slot_name::text", "slot_name")}, slot_type, active,
  {raw("database::text", "database")},
  {status},
  pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn()
                       ELSE pg_current_wal_lsn() END, restart_lsn)::int8 AS retained_bytes
FROM pg_replication_slots"""


REPLICAS_SQL = f"""SELECT /* dbtop */
  {raw("coalesce(nullif(application_name, ''), client_addr::text, pid::text)", "name")},
  client_addr::text AS client, state,
  extract(epoch FROM replay_lag)::float8 AS replay_lag_s,
  pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::int8 AS lag_bytes
FROM pg_stat_replication WHERE NOT pg_is_in_recovery()"""

# The column a sequence feeds (serial: deptype 'a', identity: 'i'), for its type's range.
SEQUENCES_SQL = f"""SELECT /* dbtop */
  {raw("format('%I.%I', s.schemaname, s.sequencename)", "sequence")}, s.data_type::text,
  s.min_value, s.max_value, s.increment_by, s.cycle, s.last_value,
  {raw("col.tbl", "table")}, {raw("col.attname", "column")}, {raw("col.typ", "column_type")}
FROM pg_sequences s
LEFT JOIN LATERAL (
  SELECT format('%I.%I', tn.nspname, tc.relname) AS tbl, a.attname::text,
    format_type(a.atttypid, NULL) AS typ
  FROM pg_depend d
  JOIN pg_class tc ON tc.oid = d.refobjid
  JOIN pg_namespace tn ON tn.oid = tc.relnamespace
  JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
  WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
    AND d.objid = format('%I.%I', s.schemaname, s.sequencename)::regclass
    AND d.deptype IN ('a', 'i')
  LIMIT 1) col ON true"""

SEQUENCES_HIDDEN_SQL = """SELECT /* dbtop */ count(*) FROM pg_sequences
WHERE last_value IS NULL AND NOT has_sequence_privilege(
  format('%I.%I', schemaname, sequencename), 'SELECT')"""

VACUUM_SQL = f"""SELECT /* dbtop */ {raw("format('%I.%I', schemaname, relname)", "relation")},
  n_dead_tup, n_live_tup,
  extract(epoch FROM now() - greatest(last_vacuum, last_autovacuum))::float8 AS last_vacuum_s
FROM pg_stat_user_tables ORDER BY n_dead_tup DESC LIMIT {TOP_TABLES}"""

# The biggest tables, with the average width of their rows from pg_stats (which shows only
# the columns this role may read: a table without them is left out, and said so).
BLOAT_SQL = f"""SELECT /* dbtop */ {raw(QUALIFIED, "relation")}, c.relpages::int8,
  c.reltuples::float8, current_setting('block_size')::int AS block_size,
  coalesce((SELECT substring(o FROM 'fillfactor=(\\d+)')::int
            FROM unnest(c.reloptions) o WHERE o LIKE 'fillfactor=%'), 100) AS fillfactor,
  (SELECT sum(s.avg_width)::float8 FROM pg_stats s
   WHERE s.schemaname = n.nspname AND s.tablename = c.relname) AS row_width
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND c.relpages >= 128
ORDER BY c.relpages DESC LIMIT {TOP_TABLES}"""

PREPARED_SQL = f"""SELECT /* dbtop */ {raw("gid", "gid")}, {raw("owner::text", "owner")},
  {raw("database::text", "database")},
  extract(epoch FROM now() - prepared)::float8 AS age_s
FROM pg_prepared_xacts ORDER BY prepared"""


def checkpoints_sql(version_num: int) -> str:
    if version_num >= 170000:
        return (
            "SELECT /* dbtop */ num_timed AS timed, num_requested AS requested "
            "FROM pg_stat_checkpointer"
        )
    return (
        "SELECT /* dbtop */ checkpoints_timed AS timed, checkpoints_req AS requested "
        "FROM pg_stat_bgwriter"
    )


Rows = tuple[Mapping[str, Any], ...]


def _rows(records: list[asyncpg.Record]) -> Rows:
    """The rows as dicts, every column read as bytes decoded (U+FFFD for invalid bytes)."""
    return tuple(
        {k: decode(v) if isinstance(v, bytes) else v for k, v in dict(r).items()} for r in records
    )


@dataclasses.dataclass
class _Live:
    horizon: Rows = ()
    slots: Rows = ()
    replicas: Rows = ()
    prepared: Rows = ()
    in_recovery: bool = False


@dataclasses.dataclass
class _Catalog:
    settings: Mapping[str, str] = dataclasses.field(default_factory=dict)
    databases: Rows = ()
    tables_age: Rows = ()
    sequences: Rows = ()
    hidden_sequences: int = 0
    vacuum: Rows = ()
    bloat: Rows = ()
    checkpoints: Mapping[str, Any] | None = None


class HealthSource:
    """The health figures of one server, kept between polls (one per engine)."""

    def __init__(self) -> None:
        self._live: Every[_Live] = Every(LIVE_S, _Live())
        self._catalog: Every[_Catalog] = Every(CATALOG_S, _Catalog())

    async def read(
        self,
        conn: asyncpg.Connection,
        version_num: int,
        sessions: tuple[Session, ...],
        *,
        sees_all: bool,
        connections: int | None,
        max_connections: int | None,
    ) -> tuple[list[Finding], list[Notice]]:
        failed: list[Notice] = []
        # Each part on its own: a timeout on the catalog keeps its last figures (retried
        # next poll) and the live checks still run. A lost connection is not a
        # PostgresError: it goes up to the poll.
        try:
            live = await self._live.get(lambda: _read_live(conn, version_num))
        except asyncpg.PostgresError as exc:
            live = self._live.value
            failed.append(Notice(Feature.HEALTH, f"health: could not read the live checks: {exc}"))
        try:
            catalog = await self._catalog.get(lambda: _read_catalog(conn, version_num))
        except asyncpg.PostgresError as exc:
            catalog = self._catalog.value
            failed.append(Notice(Feature.HEALTH, f"health: could not read the catalog: {exc}"))
        facts = PgHealthFacts(
            settings=catalog.settings,
            databases=catalog.databases,
            tables_age=catalog.tables_age,
            horizon=live.horizon,
            slots=live.slots,
            replicas=live.replicas,
            sequences=catalog.sequences,
            vacuum=catalog.vacuum,
            bloat=catalog.bloat,
            prepared=live.prepared,
            checkpoints=catalog.checkpoints,
            temp=catalog.databases,
            in_recovery=live.in_recovery,
        )
        found = judge(facts, sessions, connections=connections, max_connections=max_connections)
        return found, failed + _notices(catalog, sees_all)


async def _read_live(conn: asyncpg.Connection, version_num: int) -> _Live:
    return _Live(
        horizon=_rows(await conn.fetch(HORIZON_SQL)),
        slots=_rows(await conn.fetch(slots_sql(version_num))),
        replicas=_rows(await conn.fetch(REPLICAS_SQL)),
        prepared=_rows(await conn.fetch(PREPARED_SQL)),
        in_recovery=bool(await conn.fetchval("SELECT /* dbtop */ pg_is_in_recovery()")),
    )


async def _read_catalog(conn: asyncpg.Connection, version_num: int) -> _Catalog:
    settings = {r["name"]: r["setting"] for r in await conn.fetch(SETTINGS_SQL, list(SETTINGS))}
    return _Catalog(
        settings=settings,
        databases=_rows(await conn.fetch(DATABASES_SQL)),
        tables_age=_rows(await conn.fetch(TABLES_AGE_SQL)),
        sequences=_rows(await conn.fetch(SEQUENCES_SQL)),
        hidden_sequences=int(await conn.fetchval(SEQUENCES_HIDDEN_SQL) or 0),
        vacuum=_rows(await conn.fetch(VACUUM_SQL)),
        bloat=_rows(await conn.fetch(BLOAT_SQL)),
        checkpoints=dict(await conn.fetchrow(checkpoints_sql(version_num)) or {}),
    )


def _notices(catalog: _Catalog, sees_all: bool) -> list[Notice]:
    out: list[Notice] = []
    if not sees_all:
        out.append(
            Notice(
                Feature.HEALTH,
                "health: other roles' transactions, the replicas' lag and the standbys "
                "holding the xmin horizon are not visible to this role",
                hint="GRANT pg_monitor TO <role>",
            )
        )
    if catalog.hidden_sequences:
        out.append(
            Notice(
                Feature.HEALTH,
                f"health: {catalog.hidden_sequences} sequence(s) not checked for exhaustion: "
                "this role may not read them",
                hint="GRANT SELECT ON ALL SEQUENCES IN SCHEMA <schema> TO <role>",
            )
        )
    unmeasured = [r["relation"] for r in catalog.bloat if r.get("row_width") is None]
    if unmeasured:
        out.append(
            Notice(
                Feature.HEALTH,
                f"health: bloat not estimated for {len(unmeasured)} table(s) without "
                "statistics readable by this role (never analyzed, or no column privilege)",
                hint="ANALYZE them; or GRANT SELECT to this role",
            )
        )
    return out
