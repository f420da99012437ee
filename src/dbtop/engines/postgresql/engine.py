"""PostgresEngine: the PostgreSQL adapter behind the Engine protocol (asyncpg).

One monitor connection runs every poll's queries one after the other (an asyncpg
connection runs one query at a time, and one connection is the lightest footprint on a
server in trouble). Each section of a poll fails on its own: a statement timeout on the
index statistics leaves a notice on that pane and the sessions still arrive. A lost
connection is reopened on the next poll, so a server that comes back is picked up.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime
from typing import Any, ClassVar

import asyncpg

from dbtop.engines.base import ConnectOptions
from dbtop.engines.postgresql import catalog, statements
from dbtop.engines.postgresql.connection import (
    describe,
    is_connection_lost,
    open_connection,
    query_error,
    validate_url,
)
from dbtop.engines.postgresql.explain import explain as explain_query
from dbtop.engines.postgresql.kill import kill as kill_backend
from dbtop.engines.postgresql.kill import parse_pid
from dbtop.engines.postgresql.locks import fetch_lock_waits
from dbtop.engines.postgresql.sessions import IdleCache, fetch_sessions
from dbtop.engines.postgresql.summary import REPLICATION_SQL, SUMMARY_SQL, build_summary
from dbtop.errors import ConnectError, NotFoundError, QueryError, RefusedError
from dbtop.model import (
    Advice,
    Capabilities,
    Feature,
    Finding,
    IndexStat,
    KillMode,
    KillResult,
    Notice,
    Plan,
    Session,
    Severity,
    Snapshot,
    TableStat,
    frozen,
)

#: catalogs bigger than this many indexes are re-read every CATALOG_SLOW_S, not every poll
CATALOG_BIG = 1000
CATALOG_SLOW_S = 15.0
DATABASE_SIZE_EVERY_S = 60.0
#: an idle-in-transaction session is worth a finding after this long
IDLE_IN_XACT_S = 60.0

_ROLE_SQL = """
    SELECT /* dbtop */ current_user AS role, r.rolsuper,
           pg_has_role(current_user, 'pg_read_all_stats', 'member') AS read_all_stats,
           pg_has_role(current_user, 'pg_signal_backend', 'member') AS signal_backend,
           current_database() AS database,
           host(inet_server_addr()) AS server_addr, inet_server_port() AS server_port,
           current_setting('server_version_num')::int AS version_num,
           (SELECT setting::int FROM pg_settings WHERE name = 'track_activity_query_size')
               AS query_size,
           (SELECT extversion FROM pg_extension WHERE extname = 'hypopg') AS hypopg,
           (SELECT count(*) > 0 FROM pg_available_extensions WHERE name = 'hypopg')
               AS hypopg_available
    FROM pg_roles r WHERE r.rolname = current_user
"""


class PostgresEngine:
    """PostgreSQL 12 to 18, through asyncpg."""

    name: ClassVar[str] = "postgresql"

    def __init__(self, url: str | None, options: ConnectOptions | None = None) -> None:
        validate_url(url)
        self.url = url
        self.options = options or ConnectOptions()
        self._address = describe(url)
        self._conn: asyncpg.Connection | None = None
        self._own: list[asyncpg.Connection] = []
        self._capabilities = Capabilities(read_only=self.options.read_only)
        self._statements: statements.StatementsSource | None = None
        self._statement_notice: Notice | None = None
        self._role: dict[str, Any] = {}
        self.server_version_num = 0
        self._catalog: tuple[tuple[IndexStat, ...], tuple[TableStat, ...]] = ((), ())
        self._catalog_at = -1e9
        self._db_size: int | None = None
        self._db_size_at = -1e9
        self._idle = IdleCache()

    # -- protocol -------------------------------------------------------------------------
    @property
    def address(self) -> str:
        return self._address

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    @property
    def own_pids(self) -> frozenset[int]:
        """Every backend dbtop itself holds: never shown as a target, never killed."""
        return frozenset(c.get_server_pid() for c in self._own if not c.is_closed())

    async def connect(self) -> None:
        if self._conn is not None and not self._conn.is_closed():
            return
        conn = await open_connection(self.url, self.options)
        self._conn = conn
        self._own = [c for c in self._own if not c.is_closed()] + [conn]
        try:
            await self._inspect(conn)
        except asyncpg.PostgresError as exc:
            await self.close()
            raise query_error(exc, f"inspecting {self._address}") from None

    async def close(self) -> None:
        for conn in self._own:
            if not conn.is_closed():
                try:
                    await conn.close(timeout=2)
                except Exception:
                    conn.terminate()
        self._own = []
        self._conn = None

    async def snapshot(self) -> Snapshot:
        conn = await self._monitor()
        started = time.perf_counter()
        notices: list[Notice] = []
        try:
            summary_row = await conn.fetchrow(SUMMARY_SQL)
            sessions, now = await fetch_sessions(
                conn, self.server_version_num, self.own_pids, self._idle
            )
        except Exception as exc:
            raise self._lost_or_query(exc, "reading pg_stat_activity") from None
        lock_waits = await self._section(
            notices, "locks", fetch_lock_waits(conn, self.server_version_num, sessions, now), ()
        )
        stmts: tuple[Any, ...] = ()
        if self._statements is not None:
            stmts = await self._section(
                notices, "statements", statements.fetch_statements(conn, self._statements), ()
            )
            text_notice = statements.text_notice(self._statements)
            if text_notice is not None:
                notices.append(text_notice)
        indexes, tables = await self._section(
            notices, "indexes", self._catalog_now(conn), self._catalog
        )
        replication = None
        if self._role.get("read_all_stats") or self._role.get("rolsuper"):
            replication = await self._section(
                notices, "server", conn.fetchrow(REPLICATION_SQL), None
            )
        await self._section(notices, "server", self._refresh_db_size(conn), None)
        findings = catalog.findings_for(indexes, tables) + _session_findings(sessions)
        return Snapshot(
            engine=self.name,
            taken_at=now or datetime.now(UTC),
            monotonic=time.monotonic(),
            server=build_summary(summary_row, replication, sessions, self._address, self._db_size),
            capabilities=self._capabilities,
            sessions=sessions,
            statements=stmts,
            indexes=indexes,
            tables=tables,
            lock_waits=lock_waits,
            findings=findings,
            notices=tuple(notices),
            collect_ms=(time.perf_counter() - started) * 1000,
            extra=frozen(
                own_pids=sorted(self.own_pids),
                idle_sessions_age_s=round(time.monotonic() - self._idle.read_at, 1),
                pg_stat_statements=self._statements.version if self._statements else None,
            ),
        )

    async def kill(self, session_id: str, mode: KillMode) -> KillResult:
        if self.options.read_only:
            raise RefusedError("kill is refused in --read-only mode")
        conn = await self._monitor()
        try:
            return await kill_backend(
                conn,
                session_id,
                mode,
                own_pids=self.own_pids,
                version_num=self.server_version_num,
            )
        except asyncpg.PostgresError as exc:
            raise query_error(exc, f"{mode.value} {session_id}") from None

    async def explain(
        self,
        *,
        query: str | None = None,
        session_id: str | None = None,
        analyze: bool = False,
    ) -> Plan:
        conn = await self._monitor()
        database = None
        notes: list[str] = []
        if session_id is not None:
            query, database, notes = await self._session_query(conn, session_id)
        if not query or not query.strip():
            raise QueryError("nothing to explain: give a query or a session that runs one")
        if database and database != self._role.get("database"):
            # The plan must come from the session's own database.
            other = await self.open_connection(database=database)
            try:
                plan = await explain_query(
                    other, query, version_num=self.server_version_num, analyze=analyze
                )
            finally:
                await other.close()
        else:
            plan = await explain_query(
                conn, query, version_num=self.server_version_num, analyze=analyze
            )
        if notes:
            plan = dataclasses.replace(plan, notes=(*notes, *plan.notes))
        return plan

    async def suggest(self) -> Advice:
        from dbtop.engines.postgresql import advice

        return await advice.suggest(self)

    # -- for the advisor and the explain of other databases --------------------------------
    async def open_connection(self, *, database: str | None = None) -> asyncpg.Connection:
        """A fresh connection with the monitor's settings (read-only, timeouts); the caller
        closes it. It counts as dbtop's own while it is open."""
        conn = await open_connection(self.url, self.options, database=database)
        self._own = [c for c in self._own if not c.is_closed()] + [conn]
        return conn

    # -- internals -------------------------------------------------------------------------
    async def _monitor(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = None
            await self.connect()
        assert self._conn is not None
        return self._conn

    def _lost_or_query(self, exc: BaseException, what: str) -> Exception:
        if is_connection_lost(exc):
            if self._conn is not None:
                self._conn.terminate()
            self._conn = None
            return ConnectError(f"lost the connection to {self._address} while {what}")
        return query_error(exc, what)

    async def _section(self, notices: list[Notice], feature: str, work: Any, fallback: Any) -> Any:
        """One part of a poll; its failure becomes a notice, unless the connection is gone."""
        try:
            return await work
        except Exception as exc:
            if is_connection_lost(exc):
                raise self._lost_or_query(exc, f"reading {feature}") from None
            if not isinstance(exc, asyncpg.PostgresError | ValueError | UnicodeDecodeError):
                raise
            notices.append(Notice(feature, f"could not read {feature}: {exc}"))
            return fallback

    async def _catalog_now(
        self, conn: asyncpg.Connection
    ) -> tuple[tuple[IndexStat, ...], tuple[TableStat, ...]]:
        big = len(self._catalog[0]) > CATALOG_BIG
        if big and time.monotonic() - self._catalog_at < CATALOG_SLOW_S:
            return self._catalog
        self._catalog = await catalog.fetch_catalog(conn, self.server_version_num)
        self._catalog_at = time.monotonic()
        return self._catalog

    async def _refresh_db_size(self, conn: asyncpg.Connection) -> None:
        if time.monotonic() - self._db_size_at < DATABASE_SIZE_EVERY_S:
            return
        self._db_size_at = time.monotonic()
        self._db_size = await conn.fetchval(
            "SELECT /* dbtop */ pg_database_size(current_database())"
        )

    async def _session_query(
        self, conn: asyncpg.Connection, session_id: str
    ) -> tuple[str, str | None, list[str]]:
        pid = parse_pid(session_id)
        row = await conn.fetchrow(
            "SELECT datname, textsend(query) AS query, state FROM pg_stat_activity WHERE pid = $1",
            pid,
        )
        if row is None:
            raise NotFoundError(f"no session {pid} on this server (it may have ended)")
        if row["query"] is None:
            raise QueryError(f"session {pid} has no query to explain")
        query = row["query"].decode("utf-8", "replace")
        if query.startswith("<insufficient privilege>"):
            raise QueryError(
                f"cannot see the query of session {pid}: GRANT pg_read_all_stats "
                "(or pg_monitor) TO the monitoring role"
            )
        notes = []
        limit = int(self._role.get("query_size") or 1024)
        if len(query.encode()) >= limit - 1:
            raise QueryError(
                f"the query of session {pid} is cut at track_activity_query_size ({limit} "
                "bytes): raise that setting to explain it"
            )
        if row["state"] != "active":
            notes.append(f"session {pid} is {row['state']}: this was its last query")
        return query, row["datname"], notes

    async def _inspect(self, conn: asyncpg.Connection) -> None:
        role = await conn.fetchrow(_ROLE_SQL)
        self._role = dict(role) if role else {}
        self.server_version_num = int(self._role.get("version_num") or 0)
        if self._role.get("server_addr"):
            host = self._role["server_addr"]
            port = self._role["server_port"]
            self._address = f"{self._role['role']}@{host}:{port}/{self._role['database']}"
        else:
            self._address = describe(self.url, database=self._role.get("database"))
        notices: list[Notice] = []
        if self.server_version_num and self.server_version_num < 120000:
            notices.append(
                Notice(
                    "server",
                    f"PostgreSQL {self.server_version_num} is older than 12: some figures "
                    "may be missing",
                )
            )
        if not (self._role.get("rolsuper") or self._role.get("read_all_stats")):
            notices.append(
                Notice(
                    "sessions",
                    f"role {self._role.get('role')} sees other users' queries as "
                    "<insufficient privilege>",
                    f"GRANT pg_monitor TO {self._role.get('role')}",
                )
            )
        self._statements, notice = await statements.detect(conn)
        if notice:
            notices.append(notice)
        hypopg = self._role.get("hypopg")
        if not hypopg:
            notices.append(
                Notice(
                    Feature.HYPOTHETICAL_INDEXES,
                    "hypopg is not "
                    + (
                        "created in this database"
                        if self._role.get("hypopg_available")
                        else "installed"
                    )
                    + ": index suggestions are not verified with hypothetical indexes",
                    "CREATE EXTENSION hypopg"
                    if self._role.get("hypopg_available")
                    else "install hypopg (Debian: postgresql-NN-hypopg), then CREATE "
                    "EXTENSION hypopg",
                    Severity.INFO,
                )
            )
        features = {
            Feature.SERVER,
            Feature.SESSIONS,
            Feature.INDEXES,
            Feature.LOCKS,
            Feature.EXPLAIN,
            Feature.EXPLAIN_ANALYZE,
            Feature.EXPLAIN_SESSION,
            Feature.SUGGEST,
        }
        if not self.options.read_only:
            features |= {Feature.CANCEL, Feature.TERMINATE}
        if self._statements is not None:
            features.add(Feature.STATEMENTS)
        if hypopg:
            features.add(Feature.HYPOTHETICAL_INDEXES)
        self._capabilities = Capabilities(
            features=frozenset(features),
            read_only=self.options.read_only,
            notices=tuple(notices),
            extra=frozen(
                role=self._role.get("role"),
                superuser=bool(self._role.get("rolsuper")),
                pg_read_all_stats=bool(self._role.get("read_all_stats")),
                pg_signal_backend=bool(self._role.get("signal_backend")),
                server_version_num=self.server_version_num,
                pg_stat_statements=self._statements.version if self._statements else None,
                hypopg=hypopg,
            ),
        )


def _session_findings(sessions: tuple[Session, ...]) -> tuple[Finding, ...]:
    findings = []
    for s in sessions:
        age = s.extra.get("state_age_s")
        if (s.state or "").startswith("idle in transaction") and (age or 0) >= IDLE_IN_XACT_S:
            findings.append(
                Finding(
                    "idle_in_transaction",
                    s.id,
                    f"session {s.id} ({s.user}@{s.database}) has been idle in a transaction "
                    f"for {age:.0f} s: it holds its locks and holds back vacuum",
                    Severity.WARNING,
                    extra=frozen(xact_age_s=s.xact_age_s, backend_xmin=s.extra.get("backend_xmin")),
                )
            )
    return tuple(findings)
