"""The Operations pane: $currentOp documents as Sessions.

One ``$currentOp`` aggregation on ``admin`` lists every operation (``allUsers``), the idle
sessions that hold locks in an open transaction (``idleSessions``: they are the classic
blocker) and, only when asked for, the idle connections (``idleConnections``: thousands on a
busy server). Each document becomes a ``Session`` whose id is what killOp takes: the opid on
a mongod, ``shard:opid`` on a mongos; an idle connection is ``conn<N>`` and an idle session
``session:<uuid>`` (K ends it with killSessions).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bson.binary import Binary
from pymongo.errors import PyMongoError

from dbtop.engines.mongodb import locks, shell, values
from dbtop.engines.mongodb.capabilities import StickyNotices
from dbtop.engines.mongodb.connection import (
    MONITOR_ROLE_HINT,
    Connection,
    is_connection_error,
    is_unauthorized,
)
from dbtop.engines.mongodb.shapes import split_namespace
from dbtop.engines.mongodb.summary import integer, number, section
from dbtop.engines.sections import Sections
from dbtop.errors import NotFoundError
from dbtop.model import Feature, LockWait, Notice, Session, frozen

#: characters of a command kept for the Operations pane
QUERY_LIMIT = 2000
#: cap on the documents one poll reads (a pathological server must not drown the monitor)
MAX_OPERATIONS = 20_000
#: documents per cursor batch (fewer round trips with thousands of operations)
BATCH_SIZE = 1000
#: fields never shown, left on the server (lockStats is read for waiting operations only)
EXCLUDED = (
    "lockStats",
    "flowControlStats",
    "clientMetadata.os",
    "clientMetadata.platform",
    "lsid.uid",
    "command.lsid",
    "command.$clusterTime",
    "command.$readPreference",
)


def currentop_pipeline(
    *,
    all_users: bool = True,
    idle_connections: bool = False,
    match: Mapping[str, Any] | None = None,
    limit: int = MAX_OPERATIONS,
    exclude: tuple[str, ...] = EXCLUDED,
) -> list[dict[str, Any]]:
    stage = {
        "allUsers": all_users,
        "idleConnections": idle_connections,
        "idleSessions": True,
        "idleCursors": False,
    }
    pipeline: list[dict[str, Any]] = [{"$currentOp": stage}]
    if match:
        pipeline.append({"$match": dict(match)})
    if exclude:
        pipeline.append({"$project": dict.fromkeys(exclude, 0)})
    pipeline.append({"$limit": limit})
    return pipeline


def waiters_pipeline(*, all_users: bool = True) -> list[dict[str, Any]]:
    """The lock statistics of the operations waiting for a lock (a second, small read, only
    when some operation waits: lockStats is large and needed for nothing else)."""
    return [
        {
            "$currentOp": {
                "allUsers": all_users,
                "idleConnections": False,
                "idleSessions": False,
                "idleCursors": False,
            }
        },
        {"$match": {"waitingForLock": True}},
        {"$project": {"opid": 1, "lockStats": 1}},
        {"$limit": MAX_OPERATIONS},
    ]


def lsid_of(doc: Mapping[str, Any]) -> Binary | None:
    lsid = doc.get("lsid")
    found = lsid.get("id") if isinstance(lsid, Mapping) else None
    return found if isinstance(found, Binary) else None


def operation_id(doc: Mapping[str, Any]) -> str | None:
    """The id dbtop shows and kill takes; None when the document names nothing killable."""
    opid = doc.get("opid")
    if opid is not None and not isinstance(opid, bool):
        if isinstance(opid, int | float):
            return str(int(opid))
        return str(opid)
    kind = doc.get("type")
    if kind == "idleSession":
        lsid = lsid_of(doc)
        if lsid is not None:
            return f"session:{values.plain(lsid)}"
    conn = integer(doc.get("connectionId"))
    if conn is not None:
        return f"conn{conn}"
    lsid = lsid_of(doc)
    return f"session:{values.plain(lsid)}" if lsid is not None else None


def running_seconds(doc: Mapping[str, Any]) -> float | None:
    """How long the operation has run; for an idle session, how long its transaction has
    been open (what it has held its locks for)."""
    micros = number(doc.get("microsecs_running"))
    if micros is not None:
        return micros / 1_000_000
    secs = number(doc.get("secs_running"))
    if secs is not None:
        return secs
    opened = number(section(doc, "transaction").get("timeOpenMicros"))
    return opened / 1_000_000 if opened is not None else None


def is_internal(doc: Mapping[str, Any]) -> bool:
    """A server thread (TTL monitor, replication, checkpoints) rather than a client's work."""
    if doc.get("client") or doc.get("client_s") or isinstance(doc.get("clientMetadata"), Mapping):
        return False
    desc = doc.get("desc")
    return not (isinstance(desc, str) and desc.startswith("conn"))


def user_of(doc: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The user's name and the database it was created in (``extra.user_db``)."""
    users = doc.get("effectiveUsers")
    if isinstance(users, list) and users and isinstance(users[0], Mapping):
        first = users[0]
        name, db = first.get("user"), first.get("db")
        if name:
            return str(name), values.text(db)
    return None, None


def client_of(doc: Mapping[str, Any]) -> str | None:
    mongos = section(doc, "clientMetadata", "mongos")
    original = mongos.get("client") if mongos else None
    for value in (doc.get("client"), original, doc.get("client_s")):
        if isinstance(value, str) and value:
            return value
    return None


def command_of(doc: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The command to show: a getMore shows the command that opened its cursor."""
    command = doc.get("command")
    cursor = doc.get("cursor")
    origin = cursor.get("originatingCommand") if isinstance(cursor, Mapping) else None
    if origin is None:
        origin = doc.get("originatingCommand")
    if doc.get("op") == "getmore" and isinstance(origin, Mapping):
        return origin
    return command if isinstance(command, Mapping) else None


def query_text(doc: Mapping[str, Any], limit: int = QUERY_LIMIT) -> str | None:
    command = command_of(doc)
    if not command:
        return None
    _, coll = split_namespace(doc.get("ns") if isinstance(doc.get("ns"), str) else None)
    op = doc.get("op") if isinstance(doc.get("op"), str) else None
    if command is not doc.get("command"):
        op = None  # the originating command of a getMore speaks for itself
    text = shell.command_text(command, op=op, collection=coll, limit=limit)
    if doc.get("op") == "getmore" and command is not doc.get("command"):
        text = "getMore: " + text
    return text or None


def state_of(doc: Mapping[str, Any]) -> tuple[str, bool]:
    """The state word shown, and whether the operation is idle."""
    kind = doc.get("type")
    if doc.get("killPending"):
        return "killPending", False
    if kind == "idleSession":
        return "idle in transaction" if doc.get("transaction") else "idle session", True
    if kind == "idleConnection" or (kind != "op" and not doc.get("active", True)):
        return "idle", True
    if kind == "idleCursor":
        return "idle cursor", True
    if doc.get("waitingForLock"):
        return "waiting for lock", False
    if not doc.get("active", True):
        return "idle", True
    return "active", False


def wait_of(doc: Mapping[str, Any], lock_wait: tuple[str, str] | None) -> str | None:
    if doc.get("waitingForLock"):
        if lock_wait is not None:
            return f"lock {lock_wait[0]} {lock_wait[1]}"
        return "lock"
    latch = doc.get("waitingForLatch")
    if isinstance(latch, Mapping):
        name = latch.get("captureName")
        return f"latch {name}" if name else "latch"
    if doc.get("waitingForFlowControl"):
        return "flow control"
    return None


@dataclass(frozen=True, slots=True)
class Parsed:
    """A currentOp document with what dbtop derives from it."""

    id: str
    doc: Mapping[str, Any]
    running_s: float | None
    node: str | None
    is_self: bool
    internal: bool


def parse(doc: Mapping[str, Any], *, app_name: str, node: str | None) -> Parsed | None:
    op_id = operation_id(doc)
    if op_id is None:
        return None
    shard = doc.get("shard")
    where = shard if isinstance(shard, str) else (values.text(doc.get("host")) or node)
    return Parsed(
        id=op_id,
        doc=doc,
        running_s=running_seconds(doc),
        node=where,
        is_self=doc.get("appName") == app_name,
        internal=is_internal(doc),
    )


def _cached_text(op: Parsed, texts: dict[str, str | None] | None) -> str | None:
    if texts is None or op.doc.get("opid") is None:
        return query_text(op.doc)
    if op.id not in texts:
        texts[op.id] = query_text(op.doc)
    return texts[op.id]


def _transaction(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    txn = doc.get("transaction")
    return txn if isinstance(txn, Mapping) else {}


def to_session(
    op: Parsed,
    *,
    now: dt.datetime,
    lock_wait: tuple[str, str] | None = None,
    blocked_by: tuple[str, ...] = (),
    texts: dict[str, str | None] | None = None,
) -> Session:
    """The Session of a parsed document; ``texts`` caches the command text by opid (an opid
    is never reused while the server runs, so its command does not change)."""
    doc = op.doc
    ns = doc.get("ns") if isinstance(doc.get("ns"), str) else None
    database, _ = split_namespace(ns)
    state, idle = state_of(doc)
    txn = _transaction(doc)
    op_time = values.as_utc(doc.get("currentOpTime")) or now
    started = op_time - dt.timedelta(seconds=op.running_s) if op.running_s is not None else None
    txn_start = values.as_utc(txn.get("startWallClockTime"))
    txn_open = number(txn.get("timeOpenMicros"))
    kind = doc.get("op") if doc.get("type") in (None, "op") else doc.get("type")
    command = command_of(doc)
    lsid = lsid_of(doc)
    user, user_db = user_of(doc)
    extra: dict[str, Any] = {
        "user_db": user_db,
        "opid": values.plain(doc.get("opid")),
        "type": values.text(doc.get("type")),
        "op": values.text(doc.get("op")),
        "ns": ns,
        "desc": values.text(doc.get("desc")),
        "connection_id": integer(doc.get("connectionId")),
        "plan_summary": values.text(doc.get("planSummary")),
        "num_yields": integer(doc.get("numYields")),
        "locks": values.plain(doc.get("locks")) if isinstance(doc.get("locks"), Mapping) else None,
        "kill_pending": bool(doc.get("killPending")),
        "waiting_for_lock": bool(doc.get("waitingForLock")),
        "write_conflicts": integer(doc.get("writeConflicts")),
        "lsid": values.plain(lsid) if lsid is not None else None,
        "shard": values.text(doc.get("shard")),
        "host": values.text(doc.get("host")),
        "msg": values.text(doc.get("msg")),
        "progress": values.plain(doc.get("progress")) if doc.get("progress") else None,
        "command_name": next(iter(command), None) if command else None,
        "query_framework": values.text(doc.get("queryFramework")),
        "internal": op.internal,
        "driver": values.text(section(doc, "clientMetadata", "driver").get("name")),
        "transaction": values.plain(txn.get("parameters")) if txn.get("parameters") else None,
    }
    return Session(
        id=op.id,
        user=user,
        database=database,
        application=values.text(doc.get("appName")),
        client=client_of(doc),
        kind=values.text(kind),
        state=state,
        is_idle=idle,
        in_transaction=bool(txn),
        query=_cached_text(op, texts),
        query_start=started if not idle else None,
        xact_start=txn_start,
        backend_start=None,
        duration_s=op.running_s if not idle else None,
        xact_age_s=txn_open / 1_000_000 if txn_open is not None else None,
        wait=wait_of(doc, lock_wait),
        waiting_on_lock=bool(doc.get("waitingForLock")),
        blocked_by=blocked_by,
        is_self=op.is_self,
        node=op.node,
        extra=frozen({k: v for k, v in extra.items() if v is not None}),
    )


class Operations:
    """Reads $currentOp each poll; keeps what the next poll reuses (the privilege to list
    all users' operations, the command texts by opid, the operations of the last poll)."""

    def __init__(self, conn: Connection, sticky: StickyNotices) -> None:
        self._conn = conn
        self._sticky = sticky
        self._all_users = True
        self._texts: dict[str, str | None] = {}
        #: the operations of the last poll by id (suggest looks at their commands)
        self.last: dict[str, Parsed] = {}

    @property
    def own_ids(self) -> frozenset[str]:
        """dbtop's own operations in the last poll (known by the appName they carry)."""
        return frozenset(op.id for op in self.last.values() if op.is_self)

    def _parse(self, doc: Mapping[str, Any]) -> Parsed | None:
        return parse(doc, app_name=self._conn.app_name, node=self._conn.node)

    async def read(self, include_idle: bool, sections: Sections) -> list[Parsed]:
        conn = self._conn
        pipeline = currentop_pipeline(all_users=self._all_users, idle_connections=include_idle)
        try:
            docs = await conn.aggregate("admin", None, pipeline, BATCH_SIZE)
        except PyMongoError as exc:
            if not (self._all_users and is_unauthorized(exc)):
                raise
            # Without the inprog privilege a user may still see its own operations.
            self._all_users = False
            self._sticky.keep(
                "inprog",
                Notice(
                    Feature.SESSIONS,
                    "only this user's operations are listed: $currentOp of all users was refused",
                    MONITOR_ROLE_HINT,
                ),
            )
            pipeline = currentop_pipeline(all_users=False, idle_connections=include_idle)
            docs = await conn.aggregate("admin", None, pipeline, BATCH_SIZE)
        if any(doc.get("waitingForLock") for doc in docs):
            await self._add_lock_stats(docs)
        parsed = [op for op in map(self._parse, docs) if op is not None]
        if len(docs) >= MAX_OPERATIONS:
            sections.note(
                Notice(
                    Feature.SESSIONS,
                    f"more than {MAX_OPERATIONS:,} operations: the rest are not listed",
                )
            )
        return parsed

    async def _add_lock_stats(self, docs: list[dict[str, Any]]) -> None:
        """lockStats of the waiting operations: what they wait for, when ``locks`` alone
        leaves it open."""
        try:
            stats = await self._conn.aggregate(
                "admin", None, waiters_pipeline(all_users=self._all_users)
            )
        except PyMongoError as exc:
            if is_connection_error(exc):
                raise
            return  # the deepest lock in ``locks`` still says it
        by_opid = {str(s.get("opid")): s.get("lockStats") for s in stats if "opid" in s}
        for doc in docs:
            if doc.get("waitingForLock") and str(doc.get("opid")) in by_opid:
                doc["lockStats"] = by_opid[str(doc.get("opid"))]

    def sessions(
        self, parsed: list[Parsed], now: dt.datetime
    ) -> tuple[list[Session], list[LockWait]]:
        """The Sessions of a poll and the lock waits inferred between them."""
        self.last = {op.id: op for op in parsed}
        waits, edges, blocked = locks.wait_graph(parsed)
        previous = self._texts
        texts = {op.id: previous[op.id] for op in parsed if op.id in previous}
        sessions = [
            to_session(
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

    async def find(self, session_id: str, match: dict[str, Any]) -> Parsed:
        """The operation as the server reports it now (with its full command)."""
        pipeline = currentop_pipeline(
            all_users=self._all_users, idle_connections=True, match=match, limit=1
        )
        try:
            docs = await self._conn.aggregate("admin", None, pipeline)
        except BaseException as exc:
            raise self._conn.translate(exc, f"looking up operation {session_id}") from None
        for doc in docs:
            op = self._parse(doc)
            if op is not None:
                return op
        raise NotFoundError(
            f"operation {session_id} is not running any more (it ended after the last refresh)"
        )
