"""The MySQL / MariaDB engine: ``mysql://`` and ``mariadb://`` URLs through aiomysql.

One monitor connection answers every poll; a second one, opened on first use, serves the
user's actions (kill, explain, suggest) so that they never wait behind a poll. Both are
dbtop's own (``Session.is_self``) and never kill targets. See docs/engines/mysql.md.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, TypeVar

import aiomysql
import pymysql

from dbtop.engines.base import ConnectOptions
from dbtop.engines.mysql import digests as digest_mod
from dbtop.engines.mysql import explain as explain_mod
from dbtop.engines.mysql import features
from dbtop.engines.mysql import flavor as flavor_mod
from dbtop.engines.mysql import indexes as index_mod
from dbtop.engines.mysql import kill as kill_mod
from dbtop.engines.mysql import locks as lock_mod
from dbtop.engines.mysql import server as server_mod
from dbtop.engines.mysql import sessions as session_mod
from dbtop.engines.mysql.connection import (
    ER_KILL_DENIED,
    ER_MARIADB_TARGET_NOT_EXPLAINABLE,
    ER_NO_SUCH_THREAD,
    LOST_CODES,
    OPTIONAL_SETTINGS,
    PRIVILEGE_CODES,
    TIMEOUT_CODES,
    Link,
    error_code,
    error_text,
    open_raw,
    session_settings,
    translate,
)
from dbtop.engines.mysql.flavor import Flavor
from dbtop.engines.mysql.url import Target, parse_url
from dbtop.errors import (
    ConnectError,
    DbtopError,
    NotFoundError,
    PrivilegeError,
    QueryError,
    RefusedError,
    UsageError,
)
from dbtop.model import (
    Advice,
    Capabilities,
    Feature,
    KillMode,
    KillResult,
    LockWait,
    Notice,
    Plan,
    Severity,
    Snapshot,
    frozen,
)

T = TypeVar("T")

#: what each guarded read is for: the pane whose notice says it is missing
FEATURE_OF = {
    "replication": "server",
    "database_size": "server",
    "processlist": "sessions",
    "process": "locks",
    "row_locks": "locks",
    "metadata_locks": "locks",
    "wait_times": "locks",
    "performance_schema": "statements",
    "slow_log": "statements",
    "statistics": "indexes",
    "tables": "indexes",
    "index_sizes": "indexes",
    "userstat": "indexes",
}

#: information_schema.STATISTICS / TABLES are re-read this often (seconds)
STRUCTURE_TTL_S = 60.0
#: the slow log table (a CSV scan) is re-read this often
SLOW_LOG_TTL_S = 5.0
DATABASE_SIZE_TTL_S = 60.0
#: server settings (log_output, userstat …) and connection attributes are re-read this often:
#: every statement is a round trip, and on a loaded server each one waits for a CPU
SETTINGS_TTL_S = 10.0
#: the server-side limit of an ANALYZE the user asked for (it runs the statement)
ANALYZE_LIMIT_MS = 60_000


class MySQLEngine:
    """An adapter for one MySQL or MariaDB server (see the module doc)."""

    name: ClassVar[str] = "mysql"

    def __init__(self, url: str | None, options: ConnectOptions) -> None:
        self._options = options
        self._target: Target = parse_url(url)
        self._monitor: Link | None = None
        self._work: Link | None = None
        self._work_lock = asyncio.Lock()
        self._flavor: Flavor | None = None
        self._grants: features.Grants | None = None
        self._process = True
        self._digests_ok = False
        #: feature -> notice, for what a missing privilege disabled for good
        self._denied: dict[str, Notice] = {}
        self._structure: (
            tuple[
                float,
                list[index_mod.IndexDef],
                list[index_mod.TableDef],
                dict[tuple[str, str, str], int],
            ]
            | None
        ) = None
        self._slow: tuple[float, tuple[Any, ...]] | None = None
        self._db_size: tuple[float, int | None] | None = None
        self._use_threads = False
        self._variables: tuple[float, dict[str, str]] | None = None
        self._programs: tuple[float, dict[str, str]] | None = None
        self._capabilities = Capabilities()

    # -- protocol ---------------------------------------------------------------------------

    @property
    def address(self) -> str:
        return self._target.address

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    @property
    def flavor(self) -> Flavor:
        if self._flavor is None:
            raise UsageError("not connected")
        return self._flavor

    @property
    def target(self) -> Target:
        return self._target

    @property
    def options(self) -> ConnectOptions:
        return self._options

    def own_ids(self) -> frozenset[str]:
        return frozenset(
            str(link.thread_id) for link in (self._monitor, self._work) if link is not None
        )

    async def connect(self) -> None:
        if self._monitor is not None and not self._monitor.closed:
            return
        raw = await open_raw(self._target, self._options)
        try:
            rows = await _raw_fetch(raw, server_mod.VARIABLES_SQL)
            flavor = flavor_mod.from_variables(server_mod.name_values(rows))
            link = Link(raw, flavor, self._options, self._target)
            await link.apply(session_settings(flavor, self._options), OPTIONAL_SETTINGS)
            self._monitor = link
            self._flavor = await self._probe(link, flavor)
            self._monitor.flavor = self._flavor
        except pymysql.err.MySQLError as exc:
            raw.close()
            self._monitor = None
            raise translate(exc, self._target) from None
        self._capabilities = self._build_capabilities()

    async def close(self) -> None:
        for link in (self._monitor, self._work):
            if link is not None:
                link.close()
        self._monitor = None
        self._work = None

    async def snapshot(self) -> Snapshot:
        link = await self._link()
        started = time.monotonic()
        notices: list[Notice] = []
        try:
            return await self._collect(link, notices, started)
        except pymysql.err.MySQLError as exc:
            if error_code(exc) in LOST_CODES or link.closed:
                await self.close()
                raise ConnectError(
                    f"{self.address}: lost the connection: {error_text(exc)}"
                ) from None
            raise translate(exc, self._target) from None

    async def kill(self, session_id: str, mode: KillMode) -> KillResult:
        if self._options.read_only:
            raise RefusedError("read-only mode: kill is refused")
        tid = kill_mod.thread_id(session_id)
        await self._link()
        if str(tid) in self.own_ids():
            raise RefusedError(f"session {tid} is dbtop's own connection")
        flavor = self.flavor
        sql = kill_mod.kill_sql(tid, mode, flavor.kill_procedures)
        link = await self._work_link()
        try:
            await link.execute(sql)
        except pymysql.err.MySQLError as exc:
            code = error_code(exc)
            if code == ER_NO_SUCH_THREAD:
                raise NotFoundError(f"no session {tid} on {self.address}") from None
            if code == ER_KILL_DENIED or code in PRIVILEGE_CODES:
                hint = kill_mod.kill_grant_hint(flavor.mariadb, flavor.version)
                who = self._grants.who if self._grants else "CURRENT_USER"
                raise PrivilegeError(
                    f"not allowed to kill session {tid} of another account: {hint} TO {who}"
                ) from None
            raise translate(exc, self._target) from None
        what = "query cancelled" if mode is KillMode.CANCEL else "connection ended"
        return KillResult(str(tid), mode, True, f"{sql}: {what}")

    async def explain(
        self,
        *,
        query: str | None = None,
        session_id: str | None = None,
        analyze: bool = False,
    ) -> Plan:
        await self._link()
        if session_id is not None:
            if analyze:
                raise UsageError("ANALYZE needs the statement: give it with --query")
            return await self._explain_session(session_id)
        if query is None:
            raise UsageError("explain needs a query or a session id")
        prepared = explain_mod.prepare(query)
        sql, form = explain_mod.explain_sql(prepared, self.flavor, analyze=analyze)
        link = await self._work_link()
        try:
            if analyze:
                rows = await self._analyze(link, sql)
            else:
                rows = await link.fetch(sql)
        except pymysql.err.MySQLError as exc:
            raise _explain_error(exc) from None
        return _plan(prepared.sql, rows, form, analyzed=analyze, notes=prepared.notes)

    async def suggest(self) -> Advice:
        from dbtop.engines.mysql import advice

        return await advice.suggest(self)

    # -- connections ------------------------------------------------------------------------

    async def _link(self) -> Link:
        if self._monitor is None or self._monitor.closed:
            await self.connect()
        assert self._monitor is not None
        return self._monitor

    async def _work_link(self) -> Link:
        """The connection for user actions, opened on first use with the same settings."""
        async with self._work_lock:
            if self._work is None or self._work.closed:
                raw = await open_raw(self._target, self._options)
                link = Link(raw, self.flavor, self._options, self._target)
                try:
                    await link.apply(
                        session_settings(self.flavor, self._options), OPTIONAL_SETTINGS
                    )
                except pymysql.err.MySQLError as exc:
                    link.close()
                    raise translate(exc, self._target) from None
                self._work = link
            return self._work

    async def work_fetch(self, sql: str, args: Any = None) -> list[dict[str, Any]]:
        """A read on the action connection (the advisor's EXPLAINs and catalog reads)."""
        link = await self._work_link()
        return await link.fetch(sql, args)

    async def _probe(self, link: Link, flavor: Flavor) -> Flavor:
        """Privileges and optional features, once per connection."""
        user_rows = await link.fetch("SELECT CURRENT_USER() AS u")
        self._grants = features.Grants(
            features.grantee(user_rows[0]["u"] if user_rows else None), flavor
        )
        self._process = await self._probe_ok(link, features.PROBE_PROCESS)
        if not self._process:
            self._denied["process"] = features.denied(
                "sessions",
                "only dbtop's own sessions are visible, with no transactions or lock waits",
                self._grants.process(),
            )
        mdl_plugin = False
        plugin_rows = await self._try_rows(link, features.PROBE_MDL_PLUGIN)
        if plugin_rows:
            mdl_plugin = str(plugin_rows[0].get("PLUGIN_STATUS")) == "ACTIVE"
        mdl_instrumented = False
        self._digests_ok = False
        if flavor.performance_schema:
            self._digests_ok = await self._probe_ok(link, features.PROBE_DIGESTS)
            if not self._digests_ok:
                self._denied["performance_schema"] = features.denied(
                    "statements",
                    "performance_schema is on but this account cannot read it: no digests, "
                    "index usage or metadata-lock holders",
                    self._grants.performance_schema(),
                )
            rows = await self._try_rows(link, features.PROBE_MDL_INSTRUMENT)
            mdl_instrumented = bool(rows) and str(rows[0].get("ENABLED")).upper() == "YES"
        routines = await self._try_rows(link, kill_mod.PROCEDURES_SQL)
        provider = kill_mod.provider({str(r["ROUTINE_NAME"]) for r in routines})
        self._use_threads = flavor.pfs_processlist and self._digests_ok
        return dataclasses.replace(
            flavor,
            mdl_plugin=mdl_plugin,
            mdl_instrumented=mdl_instrumented and self._digests_ok,
            kill_procedures=provider,
        )

    async def _probe_ok(self, link: Link, sql: str) -> bool:
        try:
            await link.fetch(sql)
        except pymysql.err.MySQLError as exc:
            if error_code(exc) in PRIVILEGE_CODES:
                return False
            raise
        return True

    async def _try_rows(self, link: Link, sql: str) -> list[dict[str, Any]]:
        """Rows, or none when the table is absent or unreadable (an optional feature)."""
        try:
            return await link.fetch(sql)
        except pymysql.err.MySQLError as exc:
            if error_code(exc) in LOST_CODES:
                raise
            return []

    # -- the poll ---------------------------------------------------------------------------

    async def _guard(
        self,
        key: str,
        what: str,
        call: Callable[[], Awaitable[T]],
        default: T,
        notices: list[Notice],
        grant: str | None = None,
    ) -> T:
        """``call()``, or ``default`` with a notice: a missing privilege disables the feature
        for good (the notice names the grant), a timeout only for this poll."""
        if key in self._denied:
            return default
        feature = FEATURE_OF.get(key, key)
        try:
            return await call()
        except pymysql.err.MySQLError as exc:
            code = error_code(exc)
            if code in LOST_CODES:
                raise
            if code in PRIVILEGE_CODES and grant is not None:
                self._denied[key] = features.denied(feature, what, grant)
                self._capabilities = self._build_capabilities()
                return default
            if code in TIMEOUT_CODES:
                notices.append(
                    Notice(
                        feature,
                        f"{what}: cut off by the {self._options.statement_timeout_ms / 1000:g}s "
                        "server-side limit this time",
                        "the server is busy; --statement-timeout allows more",
                        Severity.WARNING,
                    )
                )
                return default
            notices.append(Notice(feature, f"{what}: {error_text(exc)}", None, Severity.WARNING))
            return default

    async def _collect(self, link: Link, notices: list[Notice], started: float) -> Snapshot:
        taken_at = session_mod.now_utc()
        now = time.monotonic()
        if self._variables is None or now - self._variables[0] >= SETTINGS_TTL_S:
            self._variables = (
                now,
                server_mod.name_values(await link.fetch(server_mod.VARIABLES_SQL)),
            )
        variables = self._variables[1]
        status = server_mod.name_values(await link.fetch(server_mod.STATUS_SQL))
        old = self.flavor
        fresh = flavor_mod.from_variables(
            variables,
            mdl_plugin=old.mdl_plugin,
            mdl_instrumented=old.mdl_instrumented,
            kill_procedures=old.kill_procedures,
        )
        if fresh != old:
            self._flavor = fresh
            link.flavor = fresh
            self._capabilities = self._build_capabilities()
        flavor = fresh
        grants = self._grants or features.Grants("CURRENT_USER", flavor)
        own = self.own_ids()

        replica_rows = await self._guard(
            "replication",
            "replication status",
            lambda: self._replica_status(link),
            [],
            notices,
            grants.replication(),
        )
        role, lag, replica = server_mod.replication(replica_rows)

        rows = await self._guard(
            "processlist",
            "the process list",
            lambda: link.fetch(session_mod.processlist_sql(flavor, use_threads=self._use_threads)),
            [],
            notices,
            grants.performance_schema() if self._use_threads else grants.process(),
        )
        programs: dict[str, str] = {}
        if self._programs is not None and now - self._programs[0] < SETTINGS_TTL_S:
            programs = self._programs[1]
        elif self._use_threads:
            program_rows = await self._guard(
                "performance_schema",
                "connection attributes",
                lambda: link.fetch(session_mod.PROGRAM_NAMES),
                [],
                notices,
                grants.performance_schema(),
            )
            programs = {
                str(r["ID"]): str(r["ATTR_VALUE"]) for r in program_rows if r.get("ID") is not None
            }
            self._programs = (now, programs)
        trx: dict[str, session_mod.Transaction] = {}
        if self._process:
            trx = session_mod.transactions(
                await self._guard(
                    "process",
                    "InnoDB transactions",
                    lambda: link.fetch(session_mod.TRANSACTIONS),
                    [],
                    notices,
                    grants.process(),
                )
            )
        # A first pass without edges tells who waits on what; the edges come next.
        plain = session_mod.build_sessions(
            rows, trx, own=own, blocked_by={}, programs=programs, now=taken_at
        )
        edges: list[LockWait] = []
        if any(t.waiting for t in trx.values()):
            edges.extend(await self._row_locks(link, flavor, notices, grants))
        edges.extend(await self._metadata_locks(link, flavor, plain, notices))
        waiting = lock_mod.blocked_by(edges)
        sessions = session_mod.build_sessions(
            rows, trx, own=own, blocked_by=waiting, programs=programs, now=taken_at
        )

        statements: tuple[Any, ...] = ()
        if flavor.performance_schema and self._digests_ok:
            statements = digest_mod.statements(
                await self._guard(
                    "performance_schema",
                    "statement digests",
                    lambda: link.fetch(digest_mod.digest_sql(flavor)),
                    [],
                    notices,
                    grants.performance_schema(),
                )
            )
        slow_events = await self._slow_events(link, flavor, own, notices, grants)
        indexes, tables, findings, usage_source = await self._indexes(
            link, flavor, status, notices, grants
        )
        database_size = await self._database_size(link, notices)
        summary = server_mod.summary(
            flavor=flavor,
            address=self.address,
            status=status,
            variables=variables,
            database=self._target.database,
            database_size=database_size,
            role=role,
            lag=lag,
            replica=replica,
        )
        caps = self._capabilities
        if caps.has(Feature.INDEXES) != (usage_source is not None):
            caps = dataclasses.replace(caps, features=caps.features ^ {Feature.INDEXES})
            self._capabilities = caps
        return Snapshot(
            engine=self.name,
            taken_at=taken_at,
            monotonic=time.monotonic(),
            server=summary,
            capabilities=caps,
            sessions=sessions,
            statements=statements,
            slow_events=slow_events,
            indexes=indexes,
            tables=tables,
            lock_waits=tuple(edges),
            findings=findings,
            notices=tuple(notices),
            collect_ms=(time.monotonic() - started) * 1000.0,
            extra=frozen(
                flavor=flavor.name,
                own_sessions=sorted(own),
                index_usage_source=usage_source,
                session_source="performance_schema.threads"
                if self._use_threads
                else "information_schema.PROCESSLIST",
            ),
        )

    async def _replica_status(self, link: Link) -> list[dict[str, Any]]:
        try:
            return await link.fetch("SHOW REPLICA STATUS")
        except pymysql.err.ProgrammingError as exc:
            if error_code(exc) in PRIVILEGE_CODES:
                raise
            return await link.fetch("SHOW SLAVE STATUS")

    async def _row_locks(
        self, link: Link, flavor: Flavor, notices: list[Notice], grants: features.Grants
    ) -> list[LockWait]:
        if flavor.has_data_locks:
            sql, grant = lock_mod.DATA_LOCK_WAITS, grants.performance_schema()
            if not flavor.performance_schema:
                notices.append(
                    Notice(
                        "locks",
                        "row-lock waits are in performance_schema.data_lock_waits on MySQL 8, "
                        "and performance_schema is off",
                        "add performance_schema=ON under [mysqld] and restart",
                    )
                )
                return []
        else:
            sql, grant = lock_mod.INNODB_LOCK_WAITS, grants.process()
        rows = await self._guard(
            "row_locks", "InnoDB lock waits", lambda: link.fetch(sql), [], notices, grant
        )
        return lock_mod.row_lock_edges(rows)

    async def _metadata_locks(
        self, link: Link, flavor: Flavor, sessions: Any, notices: list[Notice]
    ) -> list[LockWait]:
        waiters = lock_mod.mdl_waiters(sessions)
        if not waiters:
            return []
        waited = {s.id: s.duration_s or 0.0 for s in waiters}
        if flavor.mariadb and self._use_threads:
            # performance_schema.threads counts whole seconds; MariaDB's PROCESSLIST has ms.
            rows = await self._guard(
                "wait_times", "wait times", lambda: link.fetch(lock_mod.MDL_WAIT_TIMES), [], notices
            )
            waited.update({str(r["ID"]): float(r["TIME_MS"]) / 1000.0 for r in rows})
        if flavor.mdl_instrumented:
            pending = await self._guard(
                "metadata_locks",
                "metadata locks",
                lambda: link.fetch(lock_mod.MDL_PENDING),
                [],
                notices,
            )
            objects = {(r.get("OBJECT_SCHEMA"), r.get("OBJECT_NAME")) for r in pending}
            if not objects:
                return []
            where, args = lock_mod.objects_filter(objects, "ml.OBJECT_SCHEMA", "ml.OBJECT_NAME")
            rows = await self._guard(
                "metadata_locks",
                "metadata locks",
                lambda: link.fetch(lock_mod.MDL_ON_OBJECTS.format(objects=where), args),
                [],
                notices,
            )
            locks = lock_mod.with_wait_order(lock_mod.pfs_mdl_locks(rows), waited)
            return lock_mod.mdl_edges(locks)
        if flavor.mdl_plugin:
            wanted = {
                obj for s in waiters for obj in lock_mod.statement_tables(s.query, s.database)
            }
            if not wanted:
                return []
            where, args = lock_mod.objects_filter(wanted, "TABLE_SCHEMA", "TABLE_NAME")
            rows = await self._guard(
                "metadata_locks",
                "metadata locks (metadata_lock_info)",
                lambda: link.fetch(lock_mod.MDL_PLUGIN.format(objects=where), args),
                [],
                notices,
            )
            return lock_mod.mdl_edges(lock_mod.plugin_mdl_locks(rows, waiters))
        notices.append(
            Notice(
                "locks",
                f"{len(waiters)} session(s) wait for a metadata lock and the holder is not "
                "visible (often an open transaction that read the table)",
                "INSTALL SONAME 'metadata_lock_info' (MariaDB) or enable the "
                "wait/lock/metadata/sql/mdl instrument of performance_schema",
                Severity.WARNING,
            )
        )
        return []

    async def _slow_events(
        self,
        link: Link,
        flavor: Flavor,
        own: frozenset[str],
        notices: list[Notice],
        grants: features.Grants,
    ) -> tuple[Any, ...]:
        if not flavor.slow_log_table:
            return ()
        now = time.monotonic()
        if self._slow is not None and now - self._slow[0] < SLOW_LOG_TTL_S:
            return self._slow[1]
        rows = await self._guard(
            "slow_log",
            "the slow log table",
            lambda: link.fetch(digest_mod.SLOW_LOG),
            [],
            notices,
            grants.slow_log(),
        )
        events = digest_mod.slow_events(rows, own)
        self._slow = (now, events)
        return events

    async def _indexes(
        self,
        link: Link,
        flavor: Flavor,
        status: dict[str, str],
        notices: list[Notice],
        grants: features.Grants,
    ) -> tuple[tuple[Any, ...], tuple[Any, ...], tuple[Any, ...], str | None]:
        now = time.monotonic()
        if self._structure is None or now - self._structure[0] >= STRUCTURE_TTL_S:
            stat_rows = await self._guard(
                "statistics",
                "index definitions",
                lambda: link.fetch(index_mod.STATISTICS),
                [],
                notices,
            )
            table_rows = await self._guard(
                "tables", "table sizes", lambda: link.fetch(index_mod.TABLES), [], notices
            )
            size_rows = await self._guard(
                "index_sizes",
                "index sizes (mysql.innodb_index_stats)",
                lambda: link.fetch(index_mod.INDEX_SIZES),
                [],
                notices,
                grants.index_stats(),
            )
            self._structure = (
                now,
                index_mod.index_defs(stat_rows),
                index_mod.table_defs(table_rows),
                index_mod.index_sizes(size_rows, flavor.page_size),
            )
        _, defs, tables, sizes = self._structure
        usage: index_mod.Usage | None = None
        if flavor.performance_schema and self._digests_ok:
            rows = await self._guard(
                "performance_schema",
                "index usage",
                lambda: link.fetch(index_mod.PFS_USAGE),
                None,
                notices,
                grants.performance_schema(),
            )
            usage = index_mod.pfs_usage(rows) if rows is not None else None
        elif flavor.mariadb and flavor.userstat:
            idx_rows = await self._guard(
                "userstat",
                "index usage (userstat)",
                lambda: link.fetch(index_mod.USERSTAT_INDEXES),
                None,
                notices,
            )
            tbl_rows = await self._guard(
                "userstat",
                "table usage (userstat)",
                lambda: link.fetch(index_mod.USERSTAT_TABLES),
                [],
                notices,
            )
            usage = index_mod.userstat_usage(idx_rows, tbl_rows) if idx_rows is not None else None
        uptime = None
        try:
            uptime = float(status.get("uptime", "") or 0) or None
        except ValueError:
            uptime = None
        stats, table_stats, findings = index_mod.build(defs, tables, usage, sizes, uptime)
        return stats, table_stats, findings, usage.source if usage else None

    async def _database_size(self, link: Link, notices: list[Notice]) -> int | None:
        if not self._target.database:
            return None
        now = time.monotonic()
        if self._db_size is not None and now - self._db_size[0] < DATABASE_SIZE_TTL_S:
            return self._db_size[1]
        rows = await self._guard(
            "database_size",
            "database size",
            lambda: link.fetch(server_mod.DATABASE_SIZE_SQL),
            [],
            notices,
        )
        size = int(rows[0]["size"]) if rows and rows[0].get("size") is not None else None
        self._db_size = (now, size)
        return size

    def _build_capabilities(self) -> Capabilities:
        flavor = self.flavor
        notices = features.setting_notices(flavor, read_only=self._options.read_only)
        notices.extend(self._denied.values())
        return features.capabilities(
            flavor,
            read_only=self._options.read_only,
            process=self._process,
            digests=flavor.performance_schema and self._digests_ok,
            index_usage=(
                "performance_schema"
                if flavor.performance_schema and self._digests_ok
                else "userstat"
                if flavor.mariadb and flavor.userstat
                else None
            ),
            sources={
                "session_source": "performance_schema.threads"
                if self._use_threads
                else "information_schema.PROCESSLIST",
                "row_lock_source": "performance_schema.data_lock_waits"
                if flavor.has_data_locks
                else "information_schema.INNODB_LOCK_WAITS",
                "metadata_lock_source": (
                    "performance_schema.metadata_locks"
                    if flavor.mdl_instrumented
                    else "information_schema.METADATA_LOCK_INFO"
                    if flavor.mdl_plugin
                    else None
                ),
            },
            notices=notices,
        )

    # -- explain ----------------------------------------------------------------------------

    async def _explain_session(self, session_id: str) -> Plan:
        tid = kill_mod.thread_id(session_id)
        if str(tid) in self.own_ids():
            raise RefusedError(f"session {tid} is dbtop's own connection")
        sql, form = explain_mod.session_explain_sql(self.flavor, tid)
        link = await self._work_link()
        text_rows = await link.fetch(
            "SELECT INFO FROM information_schema.PROCESSLIST WHERE ID = %s", (tid,)
        )
        if not text_rows:
            raise NotFoundError(f"no session {tid} on {self.address}")
        query = text_rows[0].get("INFO")
        try:
            rows = await link.fetch(sql)
        except pymysql.err.MySQLError as exc:
            code = error_code(exc)
            if code == ER_NO_SUCH_THREAD:
                raise NotFoundError(f"no session {tid} on {self.address}") from None
            if code == ER_MARIADB_TARGET_NOT_EXPLAINABLE:
                raise NotFoundError(
                    f"session {tid} is not running a statement with a plan"
                ) from None
            raise _explain_error(exc) from None
        if not rows:
            raise NotFoundError(f"session {tid} is not running a statement with a plan")
        text = query.decode("utf-8", "replace") if isinstance(query, bytes) else str(query or "")
        note = "plan of the running statement (" + sql.split(" FOR")[0] + ")"
        return _plan(text, rows, form, analyzed=False, notes=(note,))

    async def _analyze(self, link: Link, sql: str) -> list[dict[str, Any]]:
        """Run ANALYZE in a read-only transaction, rolled back, with a longer limit."""
        flavor = self.flavor
        if flavor.has_statement_time:
            raise_limit = f"SET SESSION max_statement_time = {ANALYZE_LIMIT_MS / 1000:.3f}"
            restore = (
                f"SET SESSION max_statement_time = {self._options.statement_timeout_ms / 1000:.3f}"
            )
        else:
            raise_limit = f"SET SESSION max_execution_time = {ANALYZE_LIMIT_MS}"
            restore = f"SET SESSION max_execution_time = {self._options.statement_timeout_ms}"
        await link.execute(raise_limit)
        try:
            await link.execute("START TRANSACTION READ ONLY")
            try:
                return await link.fetch(sql, hint=False)
            finally:
                await link.execute("ROLLBACK")
        finally:
            await link.execute(restore)


async def _raw_fetch(conn: Any, sql: str) -> list[dict[str, Any]]:
    async with conn.cursor(aiomysql.DictCursor) as cur:
        await cur.execute(sql)
        return list(await cur.fetchall() or ())


def _explain_error(exc: BaseException) -> DbtopError:
    code = error_code(exc)
    if code in TIMEOUT_CODES:
        return QueryError(f"EXPLAIN was cut off by the server-side time limit: {error_text(exc)}")
    if code in PRIVILEGE_CODES:
        return PrivilegeError(error_text(exc))
    if isinstance(exc, pymysql.err.MySQLError) and code in LOST_CODES:
        return ConnectError(error_text(exc))
    return QueryError(f"the server rejected the statement: {error_text(exc)}")


def _plan(
    query: str, rows: list[dict[str, Any]], form: str, *, analyzed: bool, notes: tuple[str, ...]
) -> Plan:
    if form == "table":
        root = explain_mod.parse_table_plan(rows)
        return Plan(query=query, root=root, raw=rows, analyzed=analyzed, notes=notes)
    if not rows:
        raise QueryError("EXPLAIN returned no plan")
    value = next(iter(rows[0].values()))
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("utf-8", "replace")
    if form == "tree":
        return Plan(
            query=query,
            root=explain_mod.parse_tree_plan(str(value)),
            raw=str(value),
            analyzed=analyzed,
            notes=notes,
        )
    root, raw = explain_mod.parse_json_plan(str(value))
    return Plan(query=query, root=root, raw=raw, analyzed=analyzed, notes=notes)


__all__ = ["MySQLEngine"]
