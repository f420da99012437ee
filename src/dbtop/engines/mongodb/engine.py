"""The MongoDB engine: operations, slow query shapes, index usage and locks of a mongod/mongos.

Panes (``PaneLabels``): Operations ($currentOp), Slow queries (system.profile grouped by
query shape, plus long-running operations), Indexes ($indexStats and $collStats of the
largest collections), Locks (waiting operations and the ones holding conflicting locks).
Actions: killOp / killSessions, explain (queryPlanner; executionStats for reads on request),
ESR index suggestions, and turning the profiler on (``set_profiling``, a write).

The modules: ``connection`` (client, round trips, errors), ``summary`` (serverStatus),
``sessions`` ($currentOp), ``locks`` (lock graph), ``statements`` (system.profile),
``shapes`` (query shapes), ``catalog`` (collections and sizes), ``indexes`` ($indexStats,
$collStats), ``kill``, ``explain``, ``workload`` and ``advice`` (ESR suggestions),
``capabilities``, ``querytext`` (what a user types to explain), ``shell`` (mongosh syntax),
``values`` (BSON values).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import time
from collections.abc import Awaitable
from typing import Any, ClassVar, TypeVar

from dbtop.analysis.progress import Tracker, attach
from dbtop.engines.base import ConnectOptions, EngineBase
from dbtop.engines.mongodb import (
    advice,
    health,
    indexes,
    progress,
    sessions,
    statements,
    summary,
    workload,
)
from dbtop.engines.mongodb import capabilities as declared
from dbtop.engines.mongodb import explain as explaining
from dbtop.engines.mongodb import harmless as explain_harmless
from dbtop.engines.mongodb import kill as killing
from dbtop.engines.mongodb.capabilities import DEFAULT_SLOWMS, LABELS, StickyNotices
from dbtop.engines.mongodb.catalog import Catalog
from dbtop.engines.mongodb.connection import Connection
from dbtop.engines.sections import Sections
from dbtop.errors import AuthError, ConnectError, RefusedError, UsageError
from dbtop.model import (
    Advice,
    Capabilities,
    Feature,
    KillMode,
    KillResult,
    Notice,
    Plan,
    Session,
    Snapshot,
    frozen,
)

__all__ = ["LABELS", "MongoEngine"]

T = TypeVar("T")

#: databases whose profiler dbtop watches at most
MAX_PROFILED_DATABASES = 50


class MongoEngine(EngineBase):
    """An adapter for one MongoDB deployment (mongod, replica set or mongos)."""

    name: ClassVar[str] = "mongodb"
    #: the UI's idle toggle: list idle connections too (idle sessions holding a
    #: transaction's locks are always listed, they are the classic blocker)
    include_idle = False

    def __init__(self, url: str | None, options: ConnectOptions | None = None) -> None:
        if not url:
            raise UsageError("a MongoDB URL is needed: mongodb://[user@]host[:port][/database]")
        options = options or ConnectOptions()
        # A name of its own, so that dbtop's operations are known in $currentOp.
        app_name = f"{options.application_name}-{secrets.token_hex(4)}"
        self._conn = Connection(url, options, app_name)
        super().__init__(options, self._conn.address)
        self._sticky = StickyNotices()
        self._catalog = Catalog()
        self._operations = sessions.Operations(self._conn, self._sticky)
        self._profiler = statements.Profiler(self._conn, self._sticky)
        self._health = health.HealthSource()
        self._progress = Tracker()
        self._capabilities = Capabilities(labels=LABELS, read_only=self.options.read_only)

    @property
    def app_name(self) -> str:
        """The appName dbtop's connections carry (its operations are marked is_self)."""
        return self._conn.app_name

    @property
    def is_mongos(self) -> bool:
        return self._conn.is_mongos

    async def connect(self) -> None:
        if self._conn.client is not None:
            return
        await self._conn.open()
        self._declare()

    async def close(self) -> None:
        await self._conn.close()

    # -- the poll -------------------------------------------------------------------------------

    def _sections(self) -> Sections:
        """A lost connection fails the poll; any other error is that section's notice."""
        conn = self._conn

        def lost(exc: BaseException, what: str) -> BaseException | None:
            error = conn.translate(exc, f"reading {what}")
            return error if isinstance(error, ConnectError | AuthError) else None

        return Sections(
            recoverable=(Exception,),
            lost=lost,
            notice=lambda feature, what, exc: Notice(
                feature, str(conn.translate(exc, f"reading {what}"))
            ),
        )

    async def snapshot(self) -> Snapshot:
        started, now = time.monotonic(), dt.datetime.now(dt.UTC)
        conn, read, catalog, sticky = self._conn, self._sections(), self._catalog, self._sticky
        await catalog.listing.get(
            lambda: read.read(Feature.INDEXES, "the collections", catalog.refresh(conn), False)
        )
        idle, watched = self.include_idle, self._watched_databases()
        index_stats = indexes.read(
            conn, catalog, now=started, wall=now, sticky=sticky, sections=read
        )
        # serverStatus alone first: none of dbtop's commands in flight while it counts them
        server = await read.read(Feature.SERVER, "serverStatus", summary.read(conn, sticky), None)
        ops, _, (index_rows, tables, findings) = await _together(
            read.read(Feature.SESSIONS, "$currentOp", self._operations.read(idle, read), []),
            read.read(Feature.STATEMENTS, "the profiler", self._read_profiler(watched, read), None),
            read.read(Feature.INDEXES, "index statistics", index_stats, ([], [], [])),
        )
        if server is None:
            server = summary.summarize(
                {}, address=conn.address, hello=conn.hello, database=conn.parts.database
            )
        rows, lock_waits = self._operations.sessions(ops, now)
        found = attach(tuple(rows), progress.found_in(rows), self._progress, started)
        checked, health_notices = await read.read(
            Feature.HEALTH, "health checks", self._health.read(conn, server, found), ([], [])
        )
        for notice in health_notices:
            read.note(notice)
        capabilities = self._declare()
        return Snapshot(
            engine=self.name,
            taken_at=now,
            monotonic=started,
            server=server,
            capabilities=capabilities,
            sessions=found,
            statements=self._profiler.book.statements() if not conn.is_mongos else (),
            slow_events=tuple(self._profiler.slow_events(rows)),
            indexes=tuple(index_rows),
            tables=tuple(tables),
            lock_waits=tuple(lock_waits),
            findings=(*findings, *checked),
            notices=tuple(read.notices),
            collect_ms=round((time.monotonic() - started) * 1000, 2),
            extra=frozen(
                profiling=frozen(self._profiler.settings()),
                topology=conn.topology,
                include_idle=self.include_idle,
                collections_known=len(self._catalog.collections),
                collections_read=len(tables),
                catalog_truncated=self._catalog.truncated,
            ),
        )

    async def _read_profiler(self, watched: list[str], read: Sections) -> None:
        if not self._conn.is_mongos:  # each shard has its own profiler; mongos none
            await self._profiler.read(watched, read)

    def _watched_databases(self) -> list[str]:
        if self._conn.client is None:
            return []
        return self._catalog.databases(self._conn.default_database, MAX_PROFILED_DATABASES)

    def _declare(self) -> Capabilities:
        conn, profiled = self._conn, self._profiler.profiled()
        watched = self._watched_databases()
        return self.declare(
            declared.features(is_mongos=conn.is_mongos, profiled=profiled),
            declared.notices(
                is_mongos=conn.is_mongos,
                watched=watched,
                profiled=profiled,
                levels_known=self._profiler.levels_known,
                sticky=self._sticky,
            ),
            labels=LABELS,
            profiler_databases=tuple(watched),
            extra=declared.facts(profiled=profiled, topology=conn.topology, app_name=conn.app_name),
        )

    # -- actions --------------------------------------------------------------------------------

    async def _find_operation(self, session_id: str) -> sessions.Parsed:
        return await self._operations.find(session_id, killing.target_match(session_id))

    async def kill(
        self, session_id: str, mode: KillMode, *, expected: Session | None = None
    ) -> KillResult:
        self.refuse_read_only("kill")
        self.refuse_own(session_id, self._operations.own_ids)
        client = self._conn.require()
        match = killing.target_match(session_id)
        op = await self._operations.find(session_id, match)
        killing.check_same(op, session_id, match, expected)  # the one named, and confirmed
        killing.check(op, mode)  # looked up now: dbtop's own (by appName), server threads
        try:
            await self._conn.timed(client.admin.command(killing.kill_command(op, mode)))
        except BaseException as exc:
            raise self._conn.translate(
                exc, f"killing {killing.describe(op)}", hint=killing.KILL_ROLE_HINT
            ) from None
        return KillResult(
            session_id=op.id, mode=mode, ok=True, message=killing.sent_message(op, mode)
        )

    async def explain(
        self,
        *,
        query: str | None = None,
        session_id: str | None = None,
        analyze: bool = False,
    ) -> Plan:
        self._conn.require()
        op = await self._find_operation(session_id) if session_id is not None else None
        database, command, notes = explaining.request(
            query, op, self._conn.default_database, analyze
        )
        if analyze and database:
            # the command's own operators first (pure), then the views it reads
            explaining.check_analyze(command)
            await explain_harmless.prove(self._conn, database, command)
        return await explaining.run(self._conn, database, command, notes, analyze)

    async def suggest(self) -> Advice:
        snapshot = await self.snapshot()
        shapes, ops = self._profiler.book.shapes.values(), self._operations.last
        found = await workload.gather(self._conn, snapshot, shapes, ops, self._sections())
        return await advice.suggest(
            found.works, found.facts, findings=found.findings, notices=found.notices
        )

    async def set_profiling(
        self, database: str, slowms: int = DEFAULT_SLOWMS, level: int = 1
    ) -> str:
        """Turn the profiler on (level 1: operations slower than ``slowms``; level 2: all;
        level 0: off) in one database. A write: refused in read-only mode; the caller asks
        the user first. Returns what changed, in one line."""
        self.refuse_read_only("turning the profiler on (a write)")
        if level not in (0, 1, 2):
            raise UsageError("the profiler level is 0 (off), 1 (slow operations) or 2 (all)")
        if slowms < 0:
            raise UsageError("slowms must be 0 or more")
        if not database or any(c in database for c in '/\\. "$\0') or database == "admin":
            raise UsageError(f"cannot profile database {database!r}")
        client = self._conn.require()
        if self.is_mongos:
            raise RefusedError(
                "on a mongos the profile command only sets its slow-operation log; turn the "
                "profiler on on each shard's primary (connect to it directly)"
            )
        try:
            reply = await self._conn.timed(
                client[database].command({"profile": level, "slowms": int(slowms)})
            )
        except BaseException as exc:
            raise self._conn.translate(
                exc,
                f"setting the profiler of {database}",
                hint=f"grant the dbAdmin role on {database} (enableProfiler)",
            ) from None
        was, old_ms = summary.integer(reply.get("was")), summary.integer(reply.get("slowms"))
        self._profiler.switched(database, level, int(slowms))
        self._declare()
        before = (
            f"was level {'?' if was is None else was}, slowms {'?' if old_ms is None else old_ms}"
        )
        return f"profiler of {database}: level {level}, slowms {int(slowms)} ({before})"


async def _awaited(work: Awaitable[T]) -> T:
    return await work


async def _together(*works: Awaitable[Any]) -> list[Any]:
    """Run the sections at once; when one fails the poll (a lost connection), the others
    are cancelled rather than left running, and its error is raised as it is."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(_awaited(work)) for work in works]
    except BaseExceptionGroup as group_error:
        first = group_error.exceptions[0]
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None
    return [task.result() for task in tasks]
