"""The sections of one poll: what each reads, the pane its notice concerns, the grant that
would enable it, and what is re-read only every N seconds.

Every read goes through the engine's ``Sections`` guard (a timeout or an error of one
section is a notice on its pane; the rest goes on) and, beyond it, through the one
MySQL-specific rule: a missing privilege disables a source for good. Its notice, naming
the GRANT, moves to the capabilities, and the source is not read again on this connection.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pymysql

from dbtop.engines.mysql import indexes as index_mod
from dbtop.engines.mysql import inferred as inferred_mod
from dbtop.engines.mysql import locks as lock_mod
from dbtop.engines.mysql import sessions as session_mod
from dbtop.engines.mysql import statements as statement_mod
from dbtop.engines.mysql import summary as summary_mod
from dbtop.engines.mysql.capabilities import Access, denied
from dbtop.engines.mysql.connection import PRIVILEGE_CODES, Link, error_code
from dbtop.engines.mysql.flavor import Flavor
from dbtop.engines.mysql.owntraffic import OwnStatements
from dbtop.engines.refresh import Every
from dbtop.engines.sections import Sections
from dbtop.model import (
    Feature,
    Finding,
    IndexStat,
    LockWait,
    Notice,
    Session,
    Severity,
    SlowEvent,
    Statement,
    TableStat,
)

Rows = list[dict[str, Any]]

#: what each guarded source is for: the pane whose notice says it is missing
FEATURE_OF: dict[str, Feature] = {
    "replication": Feature.SERVER,
    "database_size": Feature.SERVER,
    "processlist": Feature.SESSIONS,
    "process": Feature.LOCKS,
    "row_locks": Feature.LOCKS,
    "metadata_locks": Feature.LOCKS,
    "wait_times": Feature.LOCKS,
    "performance_schema": Feature.STATEMENTS,
    "slow_log": Feature.STATEMENTS,
    "statistics": Feature.INDEXES,
    "tables": Feature.INDEXES,
    "index_sizes": Feature.INDEXES,
    "userstat": Feature.INDEXES,
    "health": Feature.HEALTH,
    "progress": Feature.SESSIONS,
}

#: information_schema.STATISTICS / TABLES are re-read this often (seconds)
STRUCTURE_TTL_S = 60.0
#: the slow log table (a CSV scan) is re-read this often
SLOW_LOG_TTL_S = 5.0
DATABASE_SIZE_TTL_S = 60.0
#: server settings (log_output, userstat …) and connection attributes are re-read this often:
#: every statement is a round trip, and on a loaded server each one waits for a CPU
SETTINGS_TTL_S = 10.0


@dataclass(frozen=True, slots=True)
class Structure:
    """Index and table definitions with index sizes, re-read every STRUCTURE_TTL_S."""

    defs: list[index_mod.IndexDef] = field(default_factory=list)
    tables: list[index_mod.TableDef] = field(default_factory=list)
    sizes: dict[tuple[str, str, str], int] = field(default_factory=dict)


class Cached:
    """What polls re-read only every N seconds, kept between polls."""

    def __init__(self) -> None:
        self.variables: Every[dict[str, str]] = Every(SETTINGS_TTL_S, {})
        self.programs: Every[dict[str, str]] = Every(SETTINGS_TTL_S, {})
        self.slow_log: Every[tuple[SlowEvent, ...]] = Every(SLOW_LOG_TTL_S, ())
        self.structure: Every[Structure] = Every(STRUCTURE_TTL_S, Structure())
        self.database_size: Every[int | None] = Every(DATABASE_SIZE_TTL_S, None)
        self.idle = session_mod.IdleCache()


@dataclass(frozen=True, slots=True)
class IndexReport:
    indexes: tuple[IndexStat, ...]
    tables: tuple[TableStat, ...]
    findings: tuple[Finding, ...]
    #: where index usage came from this poll, None when it is unknown
    usage_source: str | None


class Poll:
    """One poll's sections on the monitor connection."""

    def __init__(
        self,
        *,
        link: Link,
        flavor: Flavor,
        access: Access,
        own: frozenset[str],
        own_statements: OwnStatements | None = None,
        sections: Sections,
        cached: Cached,
        denied: Mapping[str, Notice],
        deny: Callable[[str, Notice], None],
        database: str | None,
    ) -> None:
        self.link = link
        self.flavor = flavor
        self.access = access
        self.grants = access.grants
        self.own = own
        self.own_statements = own_statements or OwnStatements()
        self.sections = sections
        self.cached = cached
        self._denied = denied
        self._deny = deny
        self.database = database

    # -- the guard --------------------------------------------------------------------------

    async def rows(
        self,
        source: str,
        what: str,
        sql: str,
        args: Sequence[Any] | None = None,
        *,
        grant: str | None = None,
    ) -> Rows | None:
        """The rows of ``sql``, or None when the section failed (its notice is in the poll)
        or its source is denied to this account."""
        return await self.read(source, what, lambda: self.link.fetch(sql, args), grant=grant)

    async def read(
        self,
        source: str,
        what: str,
        fetch: Callable[[], Awaitable[Rows]],
        *,
        grant: str | None = None,
    ) -> Rows | None:
        if source in self._denied:
            return None
        feature = FEATURE_OF[source]
        work = self._unless_denied(source, feature, what, fetch, grant)
        return await self.sections.read(feature, what, work, None)

    async def _unless_denied(
        self,
        source: str,
        feature: Feature,
        what: str,
        fetch: Callable[[], Awaitable[Rows]],
        grant: str | None,
    ) -> Rows | None:
        try:
            return await fetch()
        except pymysql.err.MySQLError as exc:
            if grant is None or error_code(exc) not in PRIVILEGE_CODES:
                raise
        self._deny(source, denied(feature, what, grant))
        return None

    # -- the sections -----------------------------------------------------------------------

    async def replication(self) -> tuple[str, float | None, dict[str, Any]]:
        rows = await self.read(
            "replication",
            "replication status",
            self._replica_status,
            grant=self.grants.replication(),
        )
        return summary_mod.replication(rows or [])

    async def _replica_status(self) -> Rows:
        try:
            return await self.link.fetch("SHOW REPLICA STATUS")
        except pymysql.err.ProgrammingError as exc:
            if error_code(exc) in PRIVILEGE_CODES:
                raise
            return await self.link.fetch("SHOW SLAVE STATUS")

    async def sessions(self, taken_at: datetime) -> tuple[tuple[Session, ...], list[LockWait]]:
        """The sessions with who blocks whom, and the lock graph's edges."""
        threads = self.access.threads
        idle = self.cached.idle
        full = idle.wants_full()
        read = await self.rows(
            "processlist",
            "the process list",
            session_mod.processlist_sql(self.flavor, use_threads=threads, with_idle=full),
            grant=self.grants.performance_schema() if threads else self.grants.process(),
        )
        rows = idle.merge(read, full=full) if read is not None else []
        programs = await self.cached.programs.get(self._programs) if threads else {}
        trx: dict[str, session_mod.Transaction] = {}
        if self.access.process:
            trx = session_mod.transactions(
                await self.rows(
                    "process",
                    "InnoDB transactions",
                    session_mod.TRANSACTIONS,
                    grant=self.grants.process(),
                )
                or []
            )
        # A first pass without edges tells who waits on what; the edges come next.
        plain = session_mod.build_sessions(
            rows, trx, own=self.own, blocked_by={}, programs=programs, now=taken_at, idle=idle
        )
        edges: list[LockWait] = []
        if any(t.waiting for t in trx.values()):
            edges.extend(await self.row_locks())
        edges.extend(await self.metadata_locks(plain))
        return session_mod.with_blockers(plain, lock_mod.blocked_by(edges)), edges

    async def _programs(self) -> dict[str, str]:
        rows = await self.rows(
            "performance_schema",
            "connection attributes",
            session_mod.PROGRAM_NAMES,
            grant=self.grants.performance_schema(),
        )
        return {
            str(r["ID"]): session_mod.text(r["ATTR_VALUE"]) or ""
            for r in rows or []
            if r.get("ID") is not None
        }

    async def row_locks(self) -> list[LockWait]:
        if self.flavor.has_data_locks:
            sql, grant = lock_mod.DATA_LOCK_WAITS, self.grants.performance_schema()
            if not self.flavor.performance_schema:
                self.sections.note(
                    Notice(
                        Feature.LOCKS,
                        "row-lock waits are in performance_schema.data_lock_waits on MySQL 8, "
                        "and performance_schema is off",
                        "add performance_schema=ON under [mysqld] and restart",
                    )
                )
                return []
        else:
            sql, grant = lock_mod.INNODB_LOCK_WAITS, self.grants.process()
        rows = await self.rows("row_locks", "InnoDB lock waits", sql, grant=grant)
        return lock_mod.row_lock_edges(rows or [])

    async def metadata_locks(self, sessions: Sequence[Session]) -> list[LockWait]:
        waiters = lock_mod.mdl_waiters(sessions)
        if not waiters:
            return []
        flavor = self.flavor
        waited = {s.id: s.duration_s or 0.0 for s in waiters}
        if flavor.mariadb and self.access.threads:
            # performance_schema.threads counts whole seconds; MariaDB's PROCESSLIST has ms.
            rows = await self.rows("wait_times", "wait times", lock_mod.MDL_WAIT_TIMES)
            waited.update({str(r["ID"]): float(r["TIME_MS"]) / 1000.0 for r in rows or []})
        if flavor.mdl_instrumented:
            pending = await self.rows("metadata_locks", "metadata locks", lock_mod.MDL_PENDING)
            objects = {(r.get("OBJECT_SCHEMA"), r.get("OBJECT_NAME")) for r in pending or []}
            if not objects:
                return []
            where, args = lock_mod.objects_filter(objects, "ml.OBJECT_SCHEMA", "ml.OBJECT_NAME")
            rows = await self.rows(
                "metadata_locks",
                "metadata locks",
                lock_mod.MDL_ON_OBJECTS.format(objects=where),
                args,
            )
            locks = lock_mod.with_wait_order(lock_mod.pfs_mdl_locks(rows or []), waited)
            return lock_mod.mdl_edges(locks)
        if flavor.mdl_plugin:
            wanted = {
                obj for s in waiters for obj in lock_mod.statement_tables(s.query, s.database)
            }
            if not wanted:
                return []
            where, args = lock_mod.objects_filter(wanted, "TABLE_SCHEMA", "TABLE_NAME")
            rows = await self.rows(
                "metadata_locks",
                "metadata locks (metadata_lock_info)",
                lock_mod.MDL_PLUGIN.format(objects=where),
                args,
            )
            return lock_mod.mdl_edges(lock_mod.plugin_mdl_locks(rows or [], waiters))
        edges = inferred_mod.inferred_mdl_edges(waiters, sessions, waited)
        alone = sorted({s.id for s in waiters} - {e.waiter for e in edges})
        # LOCK TABLES opens no InnoDB transaction: such a holder leaves nothing to infer from.
        unexplained = (
            f"; no transaction predates the wait of {', '.join(alone[:5])}: its holder may be "
            "a session holding LOCK TABLES"
            if alone
            else ""
        )
        self.sections.note(
            Notice(
                Feature.LOCKS,
                f"{len(waiters)} session(s) wait for a metadata lock and the holder is not "
                "visible: the sessions with a transaction open since before the wait are "
                f"shown as its probable holders, marked inferred{unexplained}",
                "to see the holders exactly: INSTALL SONAME 'metadata_lock_info' (MariaDB) "
                "or enable the wait/lock/metadata/sql/mdl instrument of performance_schema",
                Severity.WARNING,
            )
        )
        return edges

    async def statements(self) -> tuple[Statement, ...]:
        if not (self.flavor.performance_schema and self.access.digests):
            return ()
        rows = await self.rows(
            "performance_schema",
            "statement digests",
            statement_mod.digest_sql(self.flavor),
            grant=self.grants.performance_schema(),
        )
        # dbtop's own statements are not the server's work (owntraffic.py)
        theirs = [
            row
            for row in rows or []
            if not self.own_statements.is_own(str(row.get("DIGEST_TEXT") or ""))
        ]
        return statement_mod.statements(theirs)

    async def slow_events(self) -> tuple[SlowEvent, ...]:
        if not self.flavor.slow_log_table:
            return ()
        return await self.cached.slow_log.get(self._slow_log)

    async def _slow_log(self) -> tuple[SlowEvent, ...]:
        rows = await self.rows(
            "slow_log", "the slow log table", statement_mod.SLOW_LOG, grant=self.grants.slow_log()
        )
        return statement_mod.slow_events(rows or [], self.own)

    async def indexes(self, status: Mapping[str, str]) -> IndexReport:
        structure = await self.cached.structure.get(self._structure)
        usage = await self._index_usage()
        try:
            uptime = float(status.get("uptime", "") or 0) or None
        except ValueError:
            uptime = None
        stats, table_stats, findings = index_mod.build(
            structure.defs, structure.tables, usage, structure.sizes, uptime
        )
        return IndexReport(stats, table_stats, findings, usage.source if usage else None)

    async def _structure(self) -> Structure:
        stat_rows = await self.rows("statistics", "index definitions", index_mod.STATISTICS)
        table_rows = await self.rows("tables", "table sizes", index_mod.TABLES)
        size_rows = await self.rows(
            "index_sizes",
            "index sizes (mysql.innodb_index_stats)",
            index_mod.INDEX_SIZES,
            grant=self.grants.index_stats(),
        )
        return Structure(
            index_mod.index_defs(stat_rows or []),
            index_mod.table_defs(table_rows or []),
            index_mod.index_sizes(size_rows or [], self.flavor.page_size),
        )

    async def _index_usage(self) -> index_mod.Usage | None:
        flavor = self.flavor
        if flavor.performance_schema and self.access.digests:
            rows = await self.rows(
                "performance_schema",
                "index usage",
                index_mod.PFS_USAGE,
                grant=self.grants.performance_schema(),
            )
            return index_mod.pfs_usage(rows) if rows is not None else None
        if flavor.mariadb and flavor.userstat:
            idx_rows = await self.rows(
                "userstat", "index usage (userstat)", index_mod.USERSTAT_INDEXES
            )
            tbl_rows = await self.rows(
                "userstat", "table usage (userstat)", index_mod.USERSTAT_TABLES
            )
            if idx_rows is None:
                return None
            return index_mod.userstat_usage(idx_rows, tbl_rows or [])
        return None

    async def database_size(self) -> int | None:
        if not self.database:
            return None
        return await self.cached.database_size.get(self._database_size)

    async def _database_size(self) -> int | None:
        rows = await self.rows("database_size", "database size", summary_mod.DATABASE_SIZE_SQL)
        return int(rows[0]["size"]) if rows and rows[0].get("size") is not None else None
