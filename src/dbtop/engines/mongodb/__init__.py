"""The MongoDB engine: operations, slow query shapes, index usage and locks of a mongod/mongos.

Panes (``PaneLabels``): Operations ($currentOp), Slow queries (system.profile grouped by
query shape, plus long-running operations), Indexes ($indexStats and $collStats of the
largest collections), Locks (waiting operations and the ones holding conflicting locks).
Actions: killOp / killSessions, explain (queryPlanner; executionStats for reads on request),
ESR index suggestions, and turning the profiler on (``set_profiling``, a write).

The modules: ``connection`` (client, address, errors), ``status`` (serverStatus),
``operations`` ($currentOp), ``locks`` (lock graph), ``profile`` (system.profile),
``shapes`` (query shapes), ``indexes`` ($indexStats, $collStats), ``kill``, ``explain``,
``advice`` (ESR), ``querytext`` (what a user types to explain), ``shell`` (mongosh syntax).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import secrets
import time
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from pymongo.errors import PyMongoError

from dbtop.engines.base import ConnectOptions
from dbtop.engines.mongodb import explain as explaining
from dbtop.engines.mongodb import indexes as index_stats
from dbtop.engines.mongodb import kill as killing
from dbtop.engines.mongodb import locks, operations, profile, querytext, shell, status
from dbtop.engines.mongodb.advice import CollectionFacts, ShapeWork, suggest
from dbtop.engines.mongodb.connection import (
    COMMAND_NOT_FOUND,
    COMMAND_NOT_SUPPORTED_ON_VIEW,
    MONITOR_ROLE_HINT,
    NAMESPACE_NOT_FOUND,
    HeartbeatLog,
    address_of,
    is_code,
    is_connection_error,
    is_unauthorized,
    make_client,
    split_url,
    translate,
)
from dbtop.engines.mongodb.shapes import shape_of_entry
from dbtop.errors import (
    AuthError,
    ConnectError,
    DbtopError,
    NotFoundError,
    RefusedError,
    UsageError,
)
from dbtop.model import (
    Advice,
    Capabilities,
    Feature,
    Finding,
    IndexStat,
    KillMode,
    KillResult,
    Notice,
    PaneLabels,
    Plan,
    Session,
    Severity,
    SlowEvent,
    Snapshot,
    TableStat,
    frozen,
)

__all__ = ["LABELS", "MongoEngine"]

T = TypeVar("T")

LABELS = PaneLabels(
    sessions="Operations", statements="Slow queries", indexes="Indexes", locks="Locks"
)
#: explain with executionStats runs the query: it gets this long, not the monitor's limit
ANALYZE_TIMEOUT_MS = 30_000
#: the profiler's level is re-read this often (and right after set_profiling)
PROFILE_LEVEL_TTL_S = 30.0
#: databases whose profiler dbtop watches at most
MAX_PROFILED_DATABASES = 50
#: collections read for suggest at most
MAX_SUGGEST_COLLECTIONS = 50
#: the slow threshold when the server does not say (MongoDB's default slowms)
DEFAULT_SLOWMS = 100
#: operations that read documents through a query plan (what suggest looks at)
QUERY_OPS = frozenset(
    {"find", "aggregate", "count", "distinct", "update", "delete", "findAndModify", "getMore"}
)
#: concurrent commands within one poll (the client's pool is this size too)
CONCURRENCY = 4


class MongoEngine:
    """An adapter for one MongoDB deployment (mongod, replica set or mongos)."""

    name: ClassVar[str] = "mongodb"

    def __init__(self, url: str | None, options: ConnectOptions) -> None:
        if not url:
            raise UsageError("a MongoDB URL is needed: mongodb://[user@]host[:port][/database]")
        self._url = url
        self._options = options
        self._parts = split_url(url)
        self._address = address_of(self._parts)
        # A name of its own, so that dbtop's operations are known in $currentOp.
        self._app_name = f"{options.application_name}-{secrets.token_hex(4)}"
        self._client: Any = None
        self._heartbeats = HeartbeatLog()
        self._hello: Mapping[str, Any] = {}
        self._node: str | None = None
        self._all_users = True
        self._catalog = index_stats.Catalog()
        self._book = profile.ProfileBook()
        self._profiles: dict[str, profile.DatabaseProfile] = {}
        self._profiles_checked: float | None = None
        self._ops: dict[str, operations.Parsed] = {}
        self._texts: dict[str, str | None] = {}
        self._sticky: dict[str, Notice] = {}
        self._semaphore = asyncio.Semaphore(CONCURRENCY)
        self._capabilities = Capabilities(labels=LABELS, read_only=options.read_only)
        #: the UI's idle toggle: list idle connections too (idle sessions holding a
        #: transaction's locks are always listed, they are the classic blocker)
        self.include_idle = False

    # -- protocol -------------------------------------------------------------------------------

    @property
    def address(self) -> str:
        return self._address

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    @property
    def app_name(self) -> str:
        """The appName dbtop's connections carry (its operations are marked is_self)."""
        return self._app_name

    @property
    def is_mongos(self) -> bool:
        return self._hello.get("msg") == "isdbgrid"

    async def connect(self) -> None:
        if self._client is not None:
            return
        client = make_client(
            self._url, self._options, self._app_name, ANALYZE_TIMEOUT_MS, self._heartbeats
        )
        try:
            try:
                hello = await client.admin.command("hello")
            except PyMongoError as exc:
                if not is_code(exc, COMMAND_NOT_FOUND):
                    raise
                hello = await client.admin.command("isMaster")  # servers before 4.4.2
        except BaseException as exc:
            await client.close()
            if not isinstance(exc, Exception):  # cancelled, interrupted: not an error to word
                raise
            raise self._translate(exc, "connecting", client=client) from None
        self._client = client
        self._hello = hello
        self._node = hello.get("me") if isinstance(hello.get("me"), str) else None
        self._capabilities = self._make_capabilities()

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    async def snapshot(self) -> Snapshot:
        started = time.monotonic()
        now = dt.datetime.now(dt.UTC)
        notices: list[Notice] = []
        if self._catalog.stale(started):
            listed = await self._guard(
                self._refresh_catalog(started), "listing collections", notices
            )
            if listed is None:
                self._catalog.refreshed = started  # try again in a minute, not every poll
        summary_task = self._guard(self._status(), "reading serverStatus", notices)
        ops_task = self._guard(self._operations(notices), "reading $currentOp", notices)
        profile_task = self._guard(self._profile(started, notices), "reading the profiler", notices)
        index_task = self._guard(
            self._indexes(started, now, notices), "reading index statistics", notices
        )
        summary, ops, _, index_part = await self._together(
            summary_task, ops_task, profile_task, index_task
        )
        if summary is None:
            summary = status.summarize(
                {}, address=self._address, hello=self._hello, database=self._parts.database
            )
        parsed = ops or []
        self._ops = {op.id: op for op in parsed}
        sessions, lock_waits = self._sessions(parsed, now)
        indexes, tables, findings = index_part or ((), (), ())
        slow_events = self._slow_events(sessions)
        capabilities = self._make_capabilities()
        self._capabilities = capabilities
        return Snapshot(
            engine=self.name,
            taken_at=now,
            monotonic=started,
            server=summary,
            capabilities=capabilities,
            sessions=tuple(sessions),
            statements=self._book.statements() if not self.is_mongos else (),
            slow_events=tuple(slow_events),
            indexes=tuple(indexes),
            tables=tuple(tables),
            lock_waits=tuple(lock_waits),
            findings=tuple(findings),
            notices=tuple(notices),
            collect_ms=round((time.monotonic() - started) * 1000, 2),
            extra=frozen(
                profiling=frozen(
                    {
                        p.name: frozen(level=p.level, slowms=p.slowms, sample_rate=p.sample_rate)
                        for p in self._profiles.values()
                    }
                ),
                topology=self._topology(),
                include_idle=self.include_idle,
                collections_known=len(self._catalog.collections),
                collections_read=len(tables),
                catalog_truncated=self._catalog.truncated,
            ),
        )

    async def kill(self, session_id: str, mode: KillMode) -> KillResult:
        if self._options.read_only:
            raise RefusedError("kill is refused in read-only mode")
        client = self._require()
        op = await self._find_operation(session_id)
        killing.check(op, mode)
        command = killing.kill_command(op, mode)
        try:
            await self._timed(client.admin.command(command))
        except BaseException as exc:
            raise self._translate(
                exc, f"killing {killing.describe(op)}", hint=killing.KILL_ROLE_HINT
            ) from None
        if mode is KillMode.CANCEL:
            message = f"killOp sent to {killing.describe(op)}: it stops at its next interrupt check"
        else:
            message = (
                f"killSessions sent for the session of {killing.describe(op)}: its operations "
                "and cursors end, an open transaction aborts"
            )
        return KillResult(session_id=op.id, mode=mode, ok=True, message=message)

    async def explain(
        self,
        *,
        query: str | None = None,
        session_id: str | None = None,
        analyze: bool = False,
    ) -> Plan:
        client = self._require()
        notes: list[str] = []
        if session_id is not None:
            op = await self._find_operation(session_id)
            database, command = explaining.from_operation(op.id, op.doc)
        elif query is not None:
            parsed = querytext.parse(query, self._default_database())
            database, command = parsed.database, explaining.prepare(parsed.command)
            if parsed.verbosity and parsed.verbosity != "queryPlanner" and not analyze:
                notes.append(
                    f"the query asks for {parsed.verbosity}: that runs it, which dbtop does "
                    "only with analyze (dbtop explain --analyze)"
                )
        else:
            raise UsageError("explain needs a query or an operation id")
        if not database:
            raise UsageError(
                "name the database: in the URL (mongodb://host/DATABASE), with "
                'db.getSiblingDB("name"), or as $db in a command document'
            )
        if analyze:
            explaining.check_analyze(command)
        verbosity = "executionStats" if analyze else "queryPlanner"
        limit = ANALYZE_TIMEOUT_MS if analyze else self._options.statement_timeout_ms
        request = {"explain": command, "verbosity": verbosity, "maxTimeMS": limit}
        try:
            reply = await self._timed(client[database].command(request), limit / 1000)
        except BaseException as exc:
            raise self._translate(exc, "explain") from None
        root = explaining.plan_tree(reply)
        if explaining.is_write(command):
            notes.append("queryPlanner only: explain never executes a write")
        notes.extend(explaining.notes(reply, root, analyze))
        text = shell.command_text(command)
        return Plan(
            query=f"{database}: {text}",
            root=root,
            raw=reply,
            analyzed=analyze,
            notes=tuple(notes),
        )

    async def suggest(self) -> Advice:
        snapshot = await self.snapshot()
        client = self._require()
        works = self._workloads(snapshot.sessions)
        notices: list[Notice] = [
            n for n in snapshot.capabilities.notices if n.feature == "statements"
        ]
        wanted: list[tuple[str, str]] = []
        for work in works:
            shape = work.shape
            if shape.database and shape.collection:
                key = (shape.database, shape.collection)
                if key not in wanted:
                    wanted.append(key)
        wanted = wanted[:MAX_SUGGEST_COLLECTIONS]
        results = await asyncio.gather(
            *(
                self._guard(
                    self._collection_facts(client, db, coll), f"reading {db}.{coll}", notices
                )
                for db, coll in wanted
            )
        )
        facts = {key: fact for key, fact in zip(wanted, results, strict=True) if fact is not None}
        health = [
            f
            for f in snapshot.findings
            if f.kind in ("unused_index", "redundant_index", "collscan")
        ]
        return await suggest(works, facts, findings=health, notices=notices)

    # -- the profiler switch (a write the UI offers) -------------------------------------------

    async def set_profiling(
        self, database: str, slowms: int = DEFAULT_SLOWMS, level: int = 1
    ) -> str:
        """Turn the profiler on (level 1: operations slower than ``slowms``; level 2: all;
        level 0: off) in one database. A write: refused in read-only mode; the caller asks
        the user first. Returns what changed, in one line."""
        if self._options.read_only:
            raise RefusedError("turning the profiler on is a write: refused in read-only mode")
        if level not in (0, 1, 2):
            raise UsageError("the profiler level is 0 (off), 1 (slow operations) or 2 (all)")
        if slowms < 0:
            raise UsageError("slowms must be 0 or more")
        if not database or any(c in database for c in '/\\. "$\0') or database == "admin":
            raise UsageError(f"cannot profile database {database!r}")
        client = self._require()
        if self.is_mongos:
            raise RefusedError(
                "on a mongos the profile command only sets its slow-operation log; turn the "
                "profiler on on each shard's primary (connect to it directly)"
            )
        try:
            reply = await self._timed(
                client[database].command({"profile": level, "slowms": int(slowms)})
            )
        except BaseException as exc:
            raise self._translate(
                exc,
                f"setting the profiler of {database}",
                hint=f"grant the dbAdmin role on {database} (enableProfiler)",
            ) from None
        entry = self._profiles.setdefault(database, profile.DatabaseProfile(database))
        was, old_ms = status.integer(reply.get("was")), status.integer(reply.get("slowms"))
        entry.level, entry.slowms = level, int(slowms)
        self._profiles_checked = None  # re-read all levels at the next poll
        self._capabilities = self._make_capabilities()
        before = (
            f"was level {'?' if was is None else was}, slowms {'?' if old_ms is None else old_ms}"
        )
        return f"profiler of {database}: level {level}, slowms {int(slowms)} ({before})"

    # -- sections -------------------------------------------------------------------------------

    def _require(self) -> Any:
        if self._client is None:
            raise ConnectError(f"not connected to MongoDB at {self._address}")
        return self._client

    def _default_database(self) -> str | None:
        db = self._parts.database
        return db if db and db != "admin" else None

    def _deadline_s(self) -> float:
        return self._options.statement_timeout_ms / 1000 + self._options.connect_timeout_s

    async def _timed(self, awaitable: Awaitable[T], limit_s: float | None = None) -> T:
        """Client-side backstop to the server's maxTimeMS (a server that stops answering)."""
        try:
            async with self._semaphore:
                async with asyncio.timeout((limit_s or 0) + self._deadline_s()):
                    return await awaitable
        finally:
            if inspect.iscoroutine(awaitable):
                awaitable.close()  # never started when cancelled while queued: no warning

    def _translate(
        self, exc: BaseException, action: str, *, client: Any = None, hint: str | None = None
    ) -> DbtopError:
        return translate(
            exc,
            action=action,
            address=self._address,
            client=client if client is not None else self._client,
            timeout_s=self._options.connect_timeout_s,
            user=self._parts.user,
            hint=hint,
            heartbeats=self._heartbeats,
        )

    @staticmethod
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

    async def _guard(self, work: Awaitable[T], action: str, notices: list[Notice]) -> T | None:
        """One section of a snapshot: a lost connection fails the poll, anything else
        becomes a notice and the other sections still show."""
        try:
            return await work
        except DbtopError as err:
            if isinstance(err, ConnectError | AuthError):
                raise
            notices.append(Notice(feature="server", message=str(err)))
            return None
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                raise
            error = self._translate(exc, action)
            if isinstance(error, ConnectError | AuthError):
                raise error from None
            notices.append(Notice(feature="server", message=str(error)))
            return None

    async def _command(self, database: str, command: dict[str, Any]) -> dict[str, Any]:
        command = {**command, "maxTimeMS": self._options.statement_timeout_ms}
        return await self._timed(self._require()[database].command(command))

    async def _aggregate(
        self,
        database: str,
        collection: str | None,
        pipeline: list[dict[str, Any]],
        batch_size: int | None = None,
    ) -> list[dict[str, Any]]:
        client = self._require()
        target = client[database] if collection is None else client[database][collection]
        extra = {"batchSize": batch_size} if batch_size else {}

        async def run() -> list[dict[str, Any]]:
            cursor = await target.aggregate(
                pipeline, maxTimeMS=self._options.statement_timeout_ms, **extra
            )
            return await cursor.to_list(None)

        return await self._timed(run())

    async def _status(self) -> Any:
        reply = await self._command("admin", {"serverStatus": 1, "locks": 0})
        repl_status = None
        if self._hello.get("setName") and not self.is_mongos:
            try:
                repl_status = await self._command("admin", {"replSetGetStatus": 1})
            except PyMongoError as exc:
                if is_connection_error(exc):
                    raise
                self._sticky["replSetGetStatus"] = Notice(
                    feature="server",
                    message="replication lag is unknown: replSetGetStatus was refused",
                    hint=MONITOR_ROLE_HINT,
                    severity=Severity.INFO,
                )
        return status.summarize(
            reply,
            address=self._address,
            hello=self._hello,
            repl_status=repl_status,
            database=self._parts.database,
        )

    async def _operations(self, notices: list[Notice]) -> list[operations.Parsed]:
        pipeline = operations.currentop_pipeline(
            all_users=self._all_users, idle_connections=self.include_idle
        )
        try:
            docs = await self._aggregate("admin", None, pipeline, operations.BATCH_SIZE)
        except PyMongoError as exc:
            if not (self._all_users and is_unauthorized(exc)):
                raise
            # Without the inprog privilege a user may still see its own operations.
            self._all_users = False
            self._sticky["inprog"] = Notice(
                feature="sessions",
                message=(
                    "only this user's operations are listed: $currentOp of all users was refused"
                ),
                hint=MONITOR_ROLE_HINT,
            )
            pipeline = operations.currentop_pipeline(
                all_users=False, idle_connections=self.include_idle
            )
            docs = await self._aggregate("admin", None, pipeline, operations.BATCH_SIZE)
        if any(doc.get("waitingForLock") for doc in docs):
            await self._add_lock_stats(docs)
        parsed = []
        for doc in docs:
            op = operations.parse(doc, app_name=self._app_name, node=self._node)
            if op is not None:
                parsed.append(op)
        if len(docs) >= operations.MAX_OPERATIONS:
            notices.append(
                Notice(
                    feature="sessions",
                    message=(
                        f"more than {operations.MAX_OPERATIONS:,} operations: "
                        "the rest are not listed"
                    ),
                )
            )
        return parsed

    async def _add_lock_stats(self, docs: list[dict[str, Any]]) -> None:
        """lockStats of the waiting operations: what they wait for, when ``locks`` alone
        leaves it open."""
        try:
            stats = await self._aggregate(
                "admin", None, operations.waiters_pipeline(all_users=self._all_users)
            )
        except PyMongoError as exc:
            if is_connection_error(exc):
                raise
            return  # the deepest lock in ``locks`` still says it
        by_opid = {str(s.get("opid")): s.get("lockStats") for s in stats if "opid" in s}
        for doc in docs:
            if doc.get("waitingForLock") and str(doc.get("opid")) in by_opid:
                doc["lockStats"] = by_opid[str(doc.get("opid"))]

    def _sessions(
        self, parsed: Sequence[operations.Parsed], now: dt.datetime
    ) -> tuple[list[Session], list[Any]]:
        infos = []
        if any(op.doc.get("waitingForLock") for op in parsed):  # else: no edge to find
            for op in parsed:
                info = locks.lock_info(op.id, op.doc, op.running_s or 0.0, op.node)
                if info is not None:
                    infos.append(info)
        waits = {i.id: locks.waited_resource(i) for i in infos if i.waiting}
        edges = locks.infer_waits(infos)
        blocked = locks.blocked_by(edges)
        texts: dict[str, str | None] = {}
        previous = self._texts
        for op in parsed:
            if op.id in previous:
                texts[op.id] = previous[op.id]
        sessions = [
            operations.to_session(
                op,
                now=now,
                lock_wait=waits.get(op.id),
                blocked_by=blocked.get(op.id, ()),
                texts=texts,
            )
            for op in parsed
        ]
        self._texts = texts
        return sessions, edges

    def _slowms(self) -> int:
        values = [p.slowms for p in self._profiles.values() if p.slowms is not None]
        return min(values) if values else DEFAULT_SLOWMS

    def _slow_events(self, sessions: Sequence[Session]) -> list[SlowEvent]:
        """The profiler's newest entries, then the operations running longer than slowms."""
        threshold_s = self._slowms() / 1000
        running = []
        for session in sessions:
            if session.is_self or session.is_idle or session.duration_s is None:
                continue
            if session.duration_s < threshold_s or session.extra.get("internal"):
                continue
            running.append(
                SlowEvent(
                    id=f"op:{session.id}",
                    query=session.query or "",
                    duration_ms=round(session.duration_s * 1000, 3),
                    at=session.query_start,
                    client=session.client,
                    user=session.user,
                    database=session.database,
                    node=session.node,
                    extra=frozen(
                        source="currentOp",
                        running=True,
                        opid=session.id,
                        namespace=session.extra.get("ns"),
                        op=session.extra.get("op"),
                        plan_summary=session.extra.get("plan_summary"),
                    ),
                )
            )
        running.sort(key=lambda e: -e.duration_ms)
        return [*running, *self._book.events]

    # -- the profiler ---------------------------------------------------------------------------

    def _watched_databases(self) -> list[str]:
        default = self._default_database()
        if default:
            return [default]
        names = sorted(
            {info.database for info in self._catalog.collections.values()}
            | set(self._catalog.database_sizes),
            key=lambda d: (-self._catalog.database_sizes.get(d, 0), d),
        )
        return [n for n in names if n not in index_stats.SYSTEM_DATABASES][:MAX_PROFILED_DATABASES]

    async def _profile(self, now: float, notices: list[Notice]) -> None:
        if self.is_mongos:
            return
        databases = self._watched_databases()
        if self._profiles_checked is None or now - self._profiles_checked >= PROFILE_LEVEL_TTL_S:
            await asyncio.gather(*(self._profile_level(db) for db in databases))
            self._profiles_checked = now
        reads = [
            self._profile_read(p, notices)
            for p in self._profiles.values()
            if p.level > 0 and p.name in databases
        ]
        await asyncio.gather(*reads)

    async def _profile_level(self, database: str) -> None:
        entry = self._profiles.setdefault(database, profile.DatabaseProfile(database))
        try:
            reply = await self._command(database, {"profile": -1})
        except PyMongoError as exc:
            if is_connection_error(exc):
                raise
            entry.level = 0
            if is_unauthorized(exc):
                self._sticky["profile-level"] = Notice(
                    feature="statements",
                    message=f"the profiler's level in {database} could not be read: not authorized",
                    hint=f"grant the dbAdmin role on {database}, or clusterMonitor",
                )
            return
        profile.settings_from(reply, entry)

    async def _profile_read(self, entry: profile.DatabaseProfile, notices: list[Notice]) -> None:
        collection = self._require()[entry.name]["system.profile"]

        async def run() -> list[dict[str, Any]]:
            cursor = collection.find(
                profile.read_filter(entry),
                projection=profile.PROJECTION,
                sort=[("$natural", -1)],
                limit=profile.BATCH,
                batch_size=profile.BATCH,
                max_time_ms=self._options.statement_timeout_ms,
            )
            return await cursor.to_list(None)

        try:
            docs = await self._timed(run())
        except PyMongoError as exc:
            if is_connection_error(exc):
                raise
            if is_unauthorized(exc):
                self._sticky[f"profile-read-{entry.name}"] = Notice(
                    feature="statements",
                    message=f"{entry.name}.system.profile could not be read: not authorized",
                    hint=f"grant the dbAdmin role on {entry.name}, or clusterMonitor",
                )
                return
            raise
        first_read = entry.last_ts is None
        fresh = profile.new_entries(entry, docs)
        if len(docs) >= profile.BATCH and not first_read:
            notices.append(
                Notice(
                    feature="statements",
                    message=(
                        f"the profiler of {entry.name} wrote more than {profile.BATCH:,} entries "
                        "since the last poll: only the newest were counted"
                    ),
                    severity=Severity.INFO,
                )
            )
        for doc in fresh:
            self._book.add(doc, database=entry.name, node=self._node)

    # -- indexes --------------------------------------------------------------------------------

    async def _refresh_catalog(self, now: float) -> bool:
        default = self._default_database()
        sizes: dict[str, int] = {}
        if default:
            names = [default]
        else:
            reply = await self._command(
                "admin", {"listDatabases": 1, "nameOnly": False, "authorizedDatabases": True}
            )
            names = []
            for db in reply.get("databases", []):
                if not isinstance(db, Mapping) or not isinstance(db.get("name"), str):
                    continue
                if db["name"] in index_stats.SYSTEM_DATABASES:
                    continue
                names.append(db["name"])
                sizes[db["name"]] = status.integer(db.get("sizeOnDisk")) or 0
            names.sort(key=lambda n: (-sizes.get(n, 0), n))
            self._catalog.truncated = len(names) > index_stats.MAX_DATABASES
            names = names[: index_stats.MAX_DATABASES]
        listed = await asyncio.gather(*(self._list_collections(db) for db in names))
        collections: dict[str, list[str]] = {}
        total = 0
        for db, colls in zip(names, listed, strict=True):
            room = index_stats.MAX_COLLECTIONS - total
            if room <= 0:
                self._catalog.truncated = True
                break
            collections[db] = colls[:room]
            total += len(collections[db])
        self._catalog.replace(collections, sizes, now)
        return True

    async def _list_collections(self, database: str) -> list[str]:
        reply = await self._command(
            database,
            {
                "listCollections": 1,
                "filter": {"type": "collection"},
                "nameOnly": True,
                "authorizedCollections": True,
            },
        )
        batch = reply.get("cursor", {}).get("firstBatch", [])
        names = [
            d["name"]
            for d in batch
            if isinstance(d, Mapping)
            and isinstance(d.get("name"), str)
            and not d["name"].startswith("system.")
        ]
        return sorted(names)

    async def _collstats(self, database: str, collection: str) -> list[dict[str, Any]]:
        try:
            return await self._aggregate(database, collection, list(index_stats.COLLSTATS_PIPELINE))
        except PyMongoError as exc:
            if is_code(exc, NAMESPACE_NOT_FOUND, COMMAND_NOT_SUPPORTED_ON_VIEW):
                return []  # dropped since the catalog was read, or a view
            raise

    async def _indexstats(self, database: str, collection: str) -> list[dict[str, Any]]:
        try:
            return await self._aggregate(
                database, collection, list(index_stats.INDEXSTATS_PIPELINE)
            )
        except PyMongoError as exc:
            if is_code(exc, NAMESPACE_NOT_FOUND, COMMAND_NOT_SUPPORTED_ON_VIEW):
                return []
            raise

    async def _indexes(
        self, now: float, wall: dt.datetime, notices: list[Notice]
    ) -> tuple[list[IndexStat], list[TableStat], list[Finding]]:
        catalog = self._catalog
        to_size = catalog.to_size(now)
        sized = await asyncio.gather(
            *(self._collstats(c.database, c.name) for c in to_size), return_exceptions=True
        )
        refused = 0
        for info, docs in zip(to_size, sized, strict=True):
            if isinstance(docs, BaseException):
                if is_connection_error(docs):
                    raise docs
                refused += is_unauthorized(docs)
                catalog.learn(info.database, info.name, 0, now)
                continue
            catalog.learn(info.database, info.name, index_stats.ranking_size(docs), now)
        top = catalog.largest()
        results = await asyncio.gather(
            *(self._collection_pair(c.database, c.name) for c in top), return_exceptions=True
        )
        indexes: list[IndexStat] = []
        tables: list[TableStat] = []
        for info, result in zip(top, results, strict=True):
            if isinstance(result, BaseException):
                if is_connection_error(result):
                    raise result
                refused += is_unauthorized(result)
                continue
            stats_docs, index_docs = result
            if stats_docs:
                catalog.learn(info.database, info.name, index_stats.ranking_size(stats_docs), now)
            rows = index_stats.index_rows(
                info.database, info.name, index_docs, index_stats.index_sizes(stats_docs), wall
            )
            indexes.extend(rows)
            ops = sum(r.scans or 0 for r in rows) if rows else None
            tables.append(index_stats.table_stat(info.database, info.name, stats_docs, ops))
        if refused:
            self._sticky["indexstats"] = Notice(
                feature="indexes",
                message=f"$collStats / $indexStats were refused on {refused} collection(s)",
                hint=MONITOR_ROLE_HINT,
            )
        if catalog.truncated:
            notices.append(
                Notice(
                    feature="indexes",
                    message=(
                        f"more than {index_stats.MAX_DATABASES} databases or "
                        f"{index_stats.MAX_COLLECTIONS:,} collections: only the largest "
                        "databases' collections are considered"
                    ),
                    severity=Severity.INFO,
                )
            )
        return indexes, tables, index_stats.index_findings(indexes, tables)

    async def _collection_pair(
        self, database: str, collection: str
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        stats_docs, index_docs = await asyncio.gather(
            self._collstats(database, collection), self._indexstats(database, collection)
        )
        return stats_docs, index_docs

    # -- kill / explain helpers -----------------------------------------------------------------

    async def _find_operation(self, session_id: str) -> operations.Parsed:
        """The operation as the server reports it now (with its full command)."""
        match = killing.target_match(session_id)
        pipeline = operations.currentop_pipeline(
            all_users=self._all_users, idle_connections=True, match=match, limit=1
        )
        try:
            docs = await self._aggregate("admin", None, pipeline)
        except BaseException as exc:
            raise self._translate(exc, f"looking up operation {session_id}") from None
        for doc in docs:
            op = operations.parse(doc, app_name=self._app_name, node=self._node)
            if op is not None:
                return op
        raise NotFoundError(
            f"operation {session_id} is not running any more (it ended after the last refresh)"
        )

    # -- suggest helpers ------------------------------------------------------------------------

    def _workloads(self, sessions: Sequence[Session]) -> list[ShapeWork]:
        works = [
            ShapeWork(
                shape=stats.shape,
                calls=stats.calls,
                total_ms=stats.total_ms,
                docs_examined=stats.docs_examined,
                keys_examined=stats.keys_examined,
                nreturned=stats.nreturned,
                collscans=stats.collscans,
                in_memory_sorts=stats.sort_stages,
                plan_summary=stats.plan_summary,
            )
            for stats in self._book.shapes.values()
        ]
        known = {w.shape.id for w in works}
        for session in sessions:
            op = self._ops.get(session.id)
            if op is None or session.is_self or session.is_idle or op.internal:
                continue
            shape = shape_of_entry(op.doc)
            if shape.id in known or shape.op not in QUERY_OPS:
                continue
            known.add(shape.id)
            works.append(
                ShapeWork(
                    shape=shape,
                    calls=1,
                    total_ms=max((session.duration_s or 0.0) * 1000, 1.0),
                    plan_summary=session.extra.get("plan_summary"),
                    source="currentOp",
                )
            )
        return works

    async def _collection_facts(
        self, client: Any, database: str, collection: str
    ) -> CollectionFacts:
        async def specs() -> list[dict[str, Any]]:
            cursor = await client[database][collection].list_indexes()
            return await cursor.to_list(None)

        index_docs, stats_docs = await asyncio.gather(
            self._timed(specs()), self._collstats(database, collection)
        )
        documents = sum(
            status.integer(status.section(d, "storageStats").get("count")) or 0 for d in stats_docs
        )
        size = sum(
            status.integer(status.section(d, "storageStats").get("size")) or 0 for d in stats_docs
        )
        return CollectionFacts(
            database=database,
            name=collection,
            documents=float(documents),
            size_bytes=size or None,
            indexes=tuple(index_docs),
        )

    # -- capabilities ---------------------------------------------------------------------------

    def _topology(self) -> str:
        if self.is_mongos:
            return "sharded"
        if self._hello.get("setName"):
            return "replicaSet"
        return "standalone"

    def _make_capabilities(self) -> Capabilities:
        read_only = self._options.read_only
        watched = self._watched_databases() if self._client is not None else []
        profiled = [p.name for p in self._profiles.values() if p.level > 0]
        notices: list[Notice] = list(self._sticky.values())
        if self.is_mongos:
            notices.append(
                Notice(
                    feature="statements",
                    message=(
                        "connected to a mongos: the profiler writes system.profile on each "
                        "shard, so slow queries come from long-running operations only"
                    ),
                    hint="connect to a shard's primary to read its profiler",
                    severity=Severity.INFO,
                )
            )
        elif self._profiles_checked is not None and not profiled:
            shown = ", ".join(watched[:5]) + (" …" if len(watched) > 5 else "")
            target = watched[0] if watched else "DATABASE"
            notices.append(
                Notice(
                    feature="statements",
                    message=(
                        f"the profiler is off in {shown or 'every database'}: slow queries come "
                        "from long-running operations only"
                    ),
                    hint=(
                        f"turn it on for a database at a threshold (a write; dbtop asks first): "
                        f"db.getSiblingDB({shell.quote(target)}).setProfilingLevel(1, "
                        f"{{ slowms: {DEFAULT_SLOWMS} }})"
                    ),
                    severity=Severity.INFO,
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
            Feature.IDLE_ON_REQUEST,
        }
        if not read_only:
            features |= {Feature.CANCEL, Feature.TERMINATE}
            if not self.is_mongos:
                features.add(Feature.PROFILER)
        if profiled:
            features.add(Feature.STATEMENTS)
        return Capabilities(
            features=frozenset(features),
            read_only=read_only,
            labels=LABELS,
            notices=tuple(notices),
            profiler_databases=tuple(watched),
            extra=frozen(
                profiled_databases=tuple(profiled),
                topology=self._topology(),
                app_name=self._app_name,
                terminate="killSessions (the operation's logical session)",
                cancel="killOp",
            ),
        )


async def _awaited(work: Awaitable[T]) -> T:
    return await work
