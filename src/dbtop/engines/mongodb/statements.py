"""The Slow queries pane: the profiler's system.profile grouped by query shape.

system.profile is a small capped collection per database: entries roll off. dbtop reads the
entries that are new since its last poll (newest first, in natural order: the collection has
no index) and adds them to running totals per query shape, so the totals only grow, like
pg_stat_statements' counters, and analysis/ turns them into rates over the interval. The
first poll reads the newest ``BATCH`` entries as a starting point.

The profiler is per database and per member: dbtop reads it on the server it is connected to
(``node``), in the databases where it is on. Turning it on is a write, offered through
``set_profiling`` (refused in read-only mode).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pymongo.errors import PyMongoError

from dbtop.engines.mongodb import shell, values
from dbtop.engines.mongodb.capabilities import DEFAULT_SLOWMS, StickyNotices
from dbtop.engines.mongodb.connection import Connection, is_connection_error, is_unauthorized
from dbtop.engines.mongodb.shapes import QueryShape, shape_of_entry, split_namespace
from dbtop.engines.mongodb.summary import integer, number
from dbtop.engines.refresh import Every
from dbtop.engines.sections import Sections
from dbtop.model import Feature, Notice, Session, Severity, SlowEvent, Statement, frozen

#: entries read per database per poll
BATCH = 1000
#: slow events kept (newest first)
MAX_EVENTS = 200
#: query shapes kept (the least recently seen are forgotten beyond this)
MAX_SHAPES = 5000
#: fields left out of the profile read: large, and not shown
PROJECTION = {"execStats": 0, "locks": 0, "storage": 0, "flowControl": 0, "allUsers": 0}
#: the length of the sample command kept per shape (explainable from the Slow queries pane)
SAMPLE_LIMIT = 4000
#: the profiler's level is re-read this often (and right after set_profiling)
PROFILE_LEVEL_TTL_S = 30.0


@dataclass(slots=True)
class ShapeStats:
    """Running totals of one query shape."""

    shape: QueryShape
    database: str | None
    node: str | None
    calls: int = 0
    total_ms: float = 0.0
    max_ms: float = 0.0
    nreturned: int = 0
    docs_examined: int = 0
    keys_examined: int = 0
    #: entries that sorted in memory (hasSortStage) / read the collection (COLLSCAN)
    sort_stages: int = 0
    collscans: int = 0
    plan_summary: str | None = None
    query_hash: str | None = None
    user: str | None = None
    last_seen: dt.datetime | None = None
    sample: str | None = None

    def add(self, entry: Mapping[str, Any], at: dt.datetime | None) -> None:
        millis = number(entry.get("millis")) or 0.0
        self.calls += 1
        self.total_ms += millis
        self.max_ms = max(self.max_ms, millis)
        self.nreturned += integer(entry.get("nreturned")) or integer(entry.get("nMatched")) or 0
        self.docs_examined += integer(entry.get("docsExamined")) or 0
        self.keys_examined += integer(entry.get("keysExamined")) or 0
        plan = entry.get("planSummary")
        if isinstance(plan, str):
            self.plan_summary = plan
            if "COLLSCAN" in plan:
                self.collscans += 1
        if entry.get("hasSortStage"):
            self.sort_stages += 1
        if isinstance(entry.get("queryHash"), str):
            self.query_hash = entry["queryHash"]
        if entry.get("user"):
            self.user = user_name(entry)
        if at is not None and (self.last_seen is None or at >= self.last_seen):
            self.last_seen = at
            self.sample = sample_text(entry, self.database)

    def statement(self) -> Statement:
        shape = self.shape
        ratio = self.docs_examined / max(self.nreturned, 1) if self.calls else None
        extra = {
            "namespace": shape.namespace,
            "op": shape.op,
            "docs_examined": self.docs_examined,
            "keys_examined": self.keys_examined,
            "nreturned": self.nreturned,
            "docs_examined_per_returned": round(ratio, 2) if ratio is not None else None,
            "plan_summary": self.plan_summary,
            "in_memory_sorts": self.sort_stages,
            "collscans": self.collscans,
            "max_ms": self.max_ms,
            "equality": shape.equality,
            "in_list": shape.in_list,
            "range": shape.range,
            "sort": tuple(f"{f}:{d}" for f, d in shape.sort),
            "unindexable": shape.unindexable,
            "query_hash": self.query_hash,
            "last_seen": self.last_seen,
            "sample": self.sample,
            "source": "system.profile",
        }
        return Statement(
            id=shape.id,
            query=shape.text,
            calls=self.calls,
            total_ms=round(self.total_ms, 3),
            mean_ms=self.total_ms / self.calls if self.calls else None,
            rows=self.nreturned,
            user=self.user,
            database=self.database,
            node=self.node,
            extra=frozen({k: v for k, v in extra.items() if v is not None}),
            counters=frozen(
                docs_examined=self.docs_examined,
                keys_examined=self.keys_examined,
                in_memory_sorts=self.sort_stages,
                collscans=self.collscans,
            ),
        )


def sample_text(entry: Mapping[str, Any], database: str | None, limit: int = SAMPLE_LIMIT) -> str:
    """The entry's command in mongosh syntax, with its database, ready for explain."""
    command = entry.get("command")
    origin = entry.get("originatingCommand")
    op = entry.get("op") if isinstance(entry.get("op"), str) else None
    if op == "getmore" and isinstance(origin, Mapping):
        command, op = origin, None
    ns = entry.get("ns") if isinstance(entry.get("ns"), str) else None
    _, coll = split_namespace(ns)
    text = shell.command_text(
        command if isinstance(command, Mapping) else {}, op=op, collection=coll, limit=limit
    )
    if database and text.startswith("db."):
        text = f"db.getSiblingDB({shell.quote(database)})" + text[2:]
    return text


def user_name(entry: Mapping[str, Any]) -> str | None:
    """The profiler writes ``name@database``; the name is shown, as for operations."""
    text = values.text(entry.get("user"))
    if not text:
        return None
    name, _, _ = text.rpartition("@")
    return name or text


def entry_key(entry: Mapping[str, Any]) -> str:
    """Tells apart entries written in the same millisecond (the collection has no _id)."""
    parts = [
        str(entry.get(k))
        for k in ("ts", "op", "ns", "millis", "client", "responseLength", "nreturned")
    ]
    parts.append(shell.value_text(entry.get("command"), 300))
    return hashlib.sha1("|".join(parts).encode("utf-8", "replace")).hexdigest()[:16]


@dataclass(slots=True)
class DatabaseProfile:
    """The profiler's settings in one database and where dbtop's reading of it stands."""

    name: str
    level: int = 0
    slowms: int | None = None
    sample_rate: float | None = None
    filter: str | None = None
    last_ts: dt.datetime | None = None
    #: keys of the entries already counted at ``last_ts``
    seen: set[str] = field(default_factory=set)
    skipped: int = 0


class ProfileBook:
    """Running totals per shape and the newest slow events, fed entry by entry (pure)."""

    def __init__(self, max_shapes: int = MAX_SHAPES, max_events: int = MAX_EVENTS) -> None:
        self.shapes: dict[str, ShapeStats] = {}
        self.events: deque[SlowEvent] = deque(maxlen=max_events)
        self.max_shapes = max_shapes

    def add(self, entry: Mapping[str, Any], *, database: str | None, node: str | None) -> None:
        at = values.as_utc(entry.get("ts"))
        shape = shape_of_entry(entry)
        stats = self.shapes.get(shape.id)
        if stats is None:
            if len(self.shapes) >= self.max_shapes:
                self._forget_oldest()
            stats = ShapeStats(shape, database or shape.database, node)
            self.shapes[shape.id] = stats
        stats.add(entry, at)
        self.events.appendleft(self._event(entry, at, shape, database, node))

    def _forget_oldest(self) -> None:
        oldest = min(
            self.shapes.values(),
            key=lambda s: s.last_seen or dt.datetime.min.replace(tzinfo=dt.UTC),
        )
        del self.shapes[oldest.shape.id]

    def _event(
        self,
        entry: Mapping[str, Any],
        at: dt.datetime | None,
        shape: QueryShape,
        database: str | None,
        node: str | None,
    ) -> SlowEvent:
        extra = {
            "source": "system.profile",
            "namespace": shape.namespace,
            "op": values.text(entry.get("op")),
            "shape_id": shape.id,
            "plan_summary": values.text(entry.get("planSummary")),
            "docs_examined": integer(entry.get("docsExamined")),
            "keys_examined": integer(entry.get("keysExamined")),
            "nreturned": integer(entry.get("nreturned")),
            "has_sort_stage": bool(entry.get("hasSortStage")),
            "app_name": values.text(entry.get("appName")),
        }
        return SlowEvent(
            id=f"{database or shape.database}:{entry_key(entry)}",
            query=sample_text(entry, None, limit=shell.DEFAULT_LIMIT),
            duration_ms=number(entry.get("millis")) or 0.0,
            at=at,
            client=values.text(entry.get("client")),
            user=user_name(entry),
            database=database or shape.database,
            node=node,
            extra=frozen({k: v for k, v in extra.items() if v is not None}),
        )

    def statements(self) -> tuple[Statement, ...]:
        return tuple(stats.statement() for stats in self.shapes.values())


def new_entries(
    profile: DatabaseProfile, docs: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """The entries of a read (newest first) not counted yet, oldest first; moves the mark.

    The read asked for ``ts >= last_ts``: entries at exactly ``last_ts`` that were counted
    before are dropped by key.
    """
    fresh: list[Mapping[str, Any]] = []
    newest: dt.datetime | None = profile.last_ts
    at_newest: set[str] = set(profile.seen)
    for doc in docs:
        at = values.as_utc(doc.get("ts"))
        key = entry_key(doc)
        last = profile.last_ts
        if (
            at is not None
            and last is not None
            and (at < last or (at == last and key in profile.seen))
        ):
            continue
        fresh.append(doc)
        if at is None:
            continue
        if newest is None or at > newest:
            newest, at_newest = at, {key}
        elif at == newest:
            at_newest.add(key)
    profile.last_ts, profile.seen = newest, at_newest
    fresh.reverse()
    return fresh


def read_filter(profile: DatabaseProfile) -> dict[str, Any]:
    if profile.last_ts is None:
        return {}
    return {"ts": {"$gte": profile.last_ts.replace(tzinfo=None)}}


def settings_from(reply: Mapping[str, Any], profile: DatabaseProfile) -> None:
    """Apply a ``{profile: -1}`` reply (``was``, ``slowms``, ``sampleRate``, ``filter``)."""
    profile.level = integer(reply.get("was")) or 0
    profile.slowms = integer(reply.get("slowms"))
    profile.sample_rate = number(reply.get("sampleRate"))
    flt = reply.get("filter")
    profile.filter = shell.value_text(flt, 300) if isinstance(flt, Mapping) else None


def running_events(sessions: Iterable[Session], threshold_s: float) -> list[SlowEvent]:
    """The operations running longer than slowms, longest first."""
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
    return running


class Profiler:
    """The profiler of the watched databases: its level (re-read every
    ``PROFILE_LEVEL_TTL_S``) and the entries new since the last poll, into ``book``."""

    def __init__(self, conn: Connection, sticky: StickyNotices) -> None:
        self._conn = conn
        self._sticky = sticky
        self.book = ProfileBook()
        self.profiles: dict[str, DatabaseProfile] = {}
        self.levels: Every[None] = Every(PROFILE_LEVEL_TTL_S, None)

    @property
    def levels_known(self) -> bool:
        return self.levels.age_s is not None

    def profiled(self) -> list[str]:
        return [p.name for p in self.profiles.values() if p.level > 0]

    def slowms(self) -> int:
        values_ = [p.slowms for p in self.profiles.values() if p.slowms is not None]
        return min(values_) if values_ else DEFAULT_SLOWMS

    def slow_events(self, sessions: Iterable[Session]) -> list[SlowEvent]:
        """The operations running longer than slowms, then the profiler's newest entries."""
        return [*running_events(sessions, self.slowms() / 1000), *self.book.events]

    def settings(self) -> dict[str, Any]:
        return {
            p.name: frozen(level=p.level, slowms=p.slowms, sample_rate=p.sample_rate)
            for p in self.profiles.values()
        }

    async def read(self, databases: Sequence[str], sections: Sections) -> None:
        async def levels() -> None:
            await asyncio.gather(*(self._level(db) for db in databases))

        await self.levels.get(levels)
        await asyncio.gather(
            *(
                self._entries(p, sections)
                for p in self.profiles.values()
                if p.level > 0 and p.name in databases
            )
        )

    def switched(self, database: str, level: int, slowms: int) -> None:
        """``set_profiling`` changed a level: keep it, re-read all levels at the next poll."""
        entry = self.profiles.setdefault(database, DatabaseProfile(database))
        entry.level, entry.slowms = level, slowms
        self.levels.invalidate()

    async def _level(self, database: str) -> None:
        entry = self.profiles.setdefault(database, DatabaseProfile(database))
        try:
            reply = await self._conn.command(database, {"profile": -1})
        except PyMongoError as exc:
            if is_connection_error(exc):
                raise
            entry.level = 0
            if is_unauthorized(exc):
                self._sticky.keep(
                    "profile-level",
                    Notice(
                        Feature.STATEMENTS,
                        f"the profiler's level in {database} could not be read: not authorized",
                        f"grant the dbAdmin role on {database}, or clusterMonitor",
                    ),
                )
            return
        settings_from(reply, entry)

    async def _entries(self, entry: DatabaseProfile, sections: Sections) -> None:
        collection = self._conn.require()[entry.name]["system.profile"]

        async def run() -> list[dict[str, Any]]:
            cursor = collection.find(
                read_filter(entry),
                projection=PROJECTION,
                sort=[("$natural", -1)],
                limit=BATCH,
                batch_size=BATCH,
                max_time_ms=self._conn.options.statement_timeout_ms,
            )
            docs: list[dict[str, Any]] = await cursor.to_list(None)
            return docs

        try:
            docs = await self._conn.timed(run())
        except PyMongoError as exc:
            if is_connection_error(exc) or not is_unauthorized(exc):
                raise
            self._sticky.keep(
                f"profile-read-{entry.name}",
                Notice(
                    Feature.STATEMENTS,
                    f"{entry.name}.system.profile could not be read: not authorized",
                    f"grant the dbAdmin role on {entry.name}, or clusterMonitor",
                ),
            )
            return
        first_read = entry.last_ts is None
        fresh = new_entries(entry, docs)
        if len(docs) >= BATCH and not first_read:
            sections.note(
                Notice(
                    Feature.STATEMENTS,
                    f"the profiler of {entry.name} wrote more than {BATCH:,} entries since "
                    "the last poll: only the newest were counted",
                    severity=Severity.INFO,
                )
            )
        own = self._conn.app_name
        for doc in fresh:
            if doc.get("appName") == own:
                continue  # dbtop's own commands (owntraffic.py) are not the server's work
            self.book.add(doc, database=entry.name, node=self._conn.node)
