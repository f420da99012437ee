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

from dbtop.analysis.progress import Tracker, attach
from dbtop.engines.base import ConnectOptions, EngineBase
from dbtop.engines.own import OwnConnections
from dbtop.engines.postgresql import (
    capabilities,
    health,
    indexes,
    progress,
    sessions,
    statements,
    wait_sampling,
)
from dbtop.engines.postgresql.connection import (
    close_connection,
    describe,
    is_connection_lost,
    is_stalled,
    open_connection,
    query_error,
    stalled_error,
    validate_url,
)
from dbtop.engines.postgresql.kill import kill as kill_backend
from dbtop.engines.postgresql.locks import fetch_lock_waits
from dbtop.engines.postgresql.summary import REPLICATION_SQL, SUMMARY_SQL, build_summary
from dbtop.engines.refresh import Every
from dbtop.engines.sections import Sections
from dbtop.errors import ConnectError, QueryError
from dbtop.model import (
    Advice,
    Feature,
    IndexStat,
    KillMode,
    KillResult,
    Plan,
    Session,
    Snapshot,
    Statement,
    TableStat,
    frozen,
)

#: catalogs bigger than this many indexes are re-read every CATALOG_SLOW_S, not every poll
CATALOG_BIG = 1000
CATALOG_SLOW_S = 15.0
DATABASE_SIZE_EVERY_S = 60.0

Catalog = tuple[tuple[IndexStat, ...], tuple[TableStat, ...]]


class PostgresEngine(EngineBase):
    """PostgreSQL 12 to 18, through asyncpg."""

    name: ClassVar[str] = "postgresql"

    def __init__(self, url: str | None, options: ConnectOptions | None = None) -> None:
        validate_url(url)
        super().__init__(options, describe(url))
        self.url = url
        self._conn: asyncpg.Connection | None = None
        self._own: OwnConnections[asyncpg.Connection] = OwnConnections()
        self._statements: statements.StatementsSource | None = None
        self._role: dict[str, Any] = {}
        self.server_version_num = 0
        self._catalog: Every[Catalog] = Every(CATALOG_SLOW_S, ((), ()))
        self._db_size: Every[int | None] = Every(DATABASE_SIZE_EVERY_S, None)
        self._idle = sessions.IdleCache()
        self._health = health.HealthSource()
        self._progress = Tracker()
        self._wait_sampling: wait_sampling.WaitSampling | None = None
        #: why pg_wait_sampling is not used ("" when it is)
        self._wait_sampling_note = ""

    @property
    def own_pids(self) -> frozenset[int]:
        """Every backend dbtop itself holds: never shown as a target, never killed."""
        self._own.prune(lambda conn: conn.is_closed())
        return frozenset(int(pid) for pid in self._own.ids)

    # -- protocol -------------------------------------------------------------------------
    async def connect(self) -> None:
        if self._conn is not None and not self._conn.is_closed():
            return
        conn = await self.open_connection()
        self._conn = conn
        try:
            await self._inspect(conn)
        except Exception as exc:
            # A server that stops answering right after the handshake fails here too.
            what = f"inspecting {self._address}"
            failure = self._lost(exc, what) or (
                query_error(exc, what) if isinstance(exc, asyncpg.PostgresError) else None
            )
            await self.close()
            if failure is None:
                raise
            raise failure from None

    async def close(self) -> None:
        for conn in self._own.handles():
            await close_connection(conn)
        self._own.clear()
        self._conn = None

    async def snapshot(self) -> Snapshot:
        conn = await self._monitor()
        started = time.perf_counter()
        summary_row, found, now = await self._read_sessions(conn)
        poll = Sections(
            recoverable=(asyncpg.PostgresError, ValueError, UnicodeDecodeError),
            lost=self._lost,
        )
        wait_profile = None
        if self._wait_sampling is not None:
            # right after the sessions: the samples end where the sessions were seen
            wait_profile = await poll.read(
                Feature.SESSIONS,
                "pg_wait_sampling_profile",
                self._wait_sampling.read(conn, conn.get_server_pid(), self.own_pids, found),
                None,
            )
        lock_waits = await poll.read(
            Feature.LOCKS, "locks", fetch_lock_waits(conn, self.server_version_num, found, now), ()
        )
        stmts: tuple[Statement, ...] = ()
        if self._statements is not None:
            stmts = await poll.read(
                Feature.STATEMENTS,
                "statements",
                statements.fetch_statements(conn, self._statements),
                (),
            )
            poll.note(statements.text_notice(self._statements))
        index_stats, tables = await poll.read(
            Feature.INDEXES, "indexes", self._read_catalog(conn), self._catalog.value
        )
        replication = None
        if capabilities.sees_all(self._role):
            replication = await poll.read(
                Feature.SERVER, "server", conn.fetchrow(REPLICATION_SQL), None
            )
        await poll.read(
            Feature.SERVER, "server", self._db_size.get(lambda: _database_size(conn)), None
        )
        running = await poll.read(
            Feature.SESSIONS,
            "maintenance progress",
            progress.fetch_progress(conn, self.server_version_num),
            {},
        )
        found = attach(found, running, self._progress, time.monotonic())
        server = build_summary(summary_row, replication, found, self._address, self._db_size.value)
        checked, health_notices = await poll.read(
            Feature.HEALTH,
            "health checks",
            self._health.read(
                conn,
                self.server_version_num,
                found,
                sees_all=capabilities.sees_all(self._role),
                connections=server.connections,
                max_connections=server.max_connections,
            ),
            ([], []),
        )
        for notice in health_notices:
            poll.note(notice)
        return Snapshot(
            engine=self.name,
            taken_at=now or datetime.now(UTC),
            monotonic=time.monotonic(),
            server=server,
            capabilities=self._capabilities,
            sessions=found,
            statements=stmts,
            indexes=index_stats,
            tables=tables,
            lock_waits=lock_waits,
            findings=indexes.findings_for(index_stats, tables)
            + sessions.findings(found)
            + tuple(checked),
            notices=tuple(poll.notices),
            collect_ms=(time.perf_counter() - started) * 1000,
            wait_profile=wait_profile,
            extra=frozen(
                own_pids=sorted(self.own_pids),
                idle_sessions_age_s=round(time.monotonic() - self._idle.read_at, 1),
                pg_stat_statements=self._statements.version if self._statements else None,
                wait_sampling=self._wait_sampling_note
                or (None if wait_profile else "pg_wait_sampling could not be read this poll"),
            ),
        )

    async def kill(
        self, session_id: str, mode: KillMode, *, expected: Session | None = None
    ) -> KillResult:
        self.refuse_read_only()
        pid = sessions.parse_pid(session_id)
        self.refuse_own(str(pid), self._own.ids)
        conn = await self._monitor()
        try:
            return await kill_backend(
                conn, pid, mode, version_num=self.server_version_num, expected=expected
            )
        except asyncpg.PostgresError as exc:
            raise query_error(exc, f"{mode.value} {session_id}") from None
        except Exception as exc:
            raise self._lost(exc, f"{mode.value} {session_id}") or exc from None

    async def explain(
        self,
        *,
        query: str | None = None,
        session_id: str | None = None,
        analyze: bool = False,
    ) -> Plan:
        try:
            return await self._explain(query, session_id, analyze)
        except Exception as exc:
            raise self._lost(exc, "explain") or exc from None

    async def _explain(self, query: str | None, session_id: str | None, analyze: bool) -> Plan:
        # Imported on the first explain: it loads pglast (a quarter of a second at start-up
        # otherwise, before the first snapshot is on screen).
        from dbtop.engines.postgresql.explain import explain as explain_query
        from dbtop.engines.postgresql.explain import session_query

        conn = await self._monitor()
        database = None
        notes: list[str] = []
        if session_id is not None:
            query_size = int(self._role.get("query_size") or 1024)
            query, database, notes = await session_query(conn, session_id, query_size=query_size)
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
                await close_connection(other)
        else:
            plan = await explain_query(
                conn, query, version_num=self.server_version_num, analyze=analyze
            )
        if notes:
            plan = dataclasses.replace(plan, notes=(*notes, *plan.notes))
        return plan

    async def suggest(self) -> Advice:
        from dbtop.engines.postgresql import advice

        try:
            return await advice.suggest(self)
        except Exception as exc:
            raise self._lost(exc, "suggest") or exc from None

    # -- for the advisor and the explain of other databases --------------------------------
    async def open_connection(self, *, database: str | None = None) -> asyncpg.Connection:
        """A fresh connection with the monitor's settings (read-only, timeouts); the caller
        closes it. It counts as dbtop's own while it is open."""
        conn = await open_connection(self.url, self.options, database=database)
        self._own.prune(lambda c: c.is_closed())
        self._own.add(conn, conn.get_server_pid())
        return conn

    # -- internals -------------------------------------------------------------------------
    async def _monitor(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = None
            await self.connect()
        assert self._conn is not None
        return self._conn

    async def _read_sessions(
        self, conn: asyncpg.Connection
    ) -> tuple[asyncpg.Record, tuple[Session, ...], datetime | None]:
        """The header's row and the sessions: the one read whose failure fails the poll."""
        try:
            summary_row = await conn.fetchrow(SUMMARY_SQL)
            found, now = await sessions.fetch_sessions(
                conn, self.server_version_num, self.own_pids, self._idle
            )
        except Exception as exc:
            raise self._lost(exc, "pg_stat_activity") or query_error(
                exc, "reading pg_stat_activity"
            ) from None
        return summary_row, found, now

    def _lost(self, exc: BaseException, what: str) -> ConnectError | None:
        """The error that ends the poll when the connection is gone; None otherwise."""
        if not is_connection_lost(exc):
            return None
        if self._conn is not None:
            self._conn.terminate()
        self._conn = None
        if is_stalled(exc):
            return stalled_error(self._address, exc, what)
        return ConnectError(f"lost the connection to {self._address} while reading {what}")

    async def _read_catalog(self, conn: asyncpg.Connection) -> Catalog:
        big = len(self._catalog.value[0]) > CATALOG_BIG
        return await self._catalog.get(
            lambda: indexes.fetch_catalog(conn, self.server_version_num),
            period_s=None if big else 0,
        )

    async def _inspect(self, conn: asyncpg.Connection) -> None:
        self._role = await capabilities.read_role(conn)
        self.server_version_num = int(self._role.get("version_num") or 0)
        if self._role.get("server_addr"):
            host = self._role["server_addr"]
            port = self._role["server_port"]
            self._address = f"{self._role['role']}@{host}:{port}/{self._role['database']}"
        else:
            self._address = describe(self.url, database=self._role.get("database"))
        self._statements, notice = await statements.detect(conn)
        self._wait_sampling, self._wait_sampling_note = await wait_sampling.detect(
            conn, conn.get_server_pid()
        )
        self.declare(
            capabilities.features(self._role, self._statements),
            capabilities.notices(self._role, notice),
            extra=capabilities.extra(self._role, self._statements),
        )


async def _database_size(conn: asyncpg.Connection) -> int | None:
    size: int | None = await conn.fetchval(
        "SELECT /* dbtop */ pg_database_size(current_database())"
    )
    return size
