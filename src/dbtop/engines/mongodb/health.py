"""The figures MongoDB's health checks need. Most are already in the poll: serverStatus and
replSetGetStatus (members, tickets, cache, in the summary) and $currentOp (long
operations). Only the oplog window is read here, every OPLOG_S on a replica set member:
its storage size and limit ($collStats) and the time of its first and last entries (two
one-document reads in natural order: no scan), each under the monitor's maxTimeMS.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo.errors import OperationFailure

from dbtop.analysis.health.mongodb import Oplog, judge
from dbtop.engines.mongodb.connection import Connection
from dbtop.engines.mongodb.summary import integer, section
from dbtop.engines.refresh import Every
from dbtop.model import Feature, Finding, Notice, ServerSummary, Session

OPLOG_S = 60.0

MONITOR_HINT = "grant the clusterMonitor role (it reads the local database)"


def _seconds(doc: dict[str, Any] | None) -> float | None:
    ts = (doc or {}).get("ts")
    time = getattr(ts, "time", None)
    return float(time) if time is not None else None


async def _edge(conn: Connection, order: int) -> float | None:
    reply = await conn.command(
        "local",
        {
            "find": "oplog.rs",
            "sort": {"$natural": order},
            "limit": 1,
            "projection": {"ts": 1, "_id": 0},
            "singleBatch": True,
        },
    )
    batch = section(reply, "cursor").get("firstBatch") or []
    return _seconds(batch[0]) if batch else None


async def read_oplog(conn: Connection) -> Oplog:
    stats = await conn.aggregate("local", "oplog.rs", [{"$collStats": {"storageStats": {}}}])
    storage = section(stats[0] if stats else {}, "storageStats")
    return Oplog(
        first_s=await _edge(conn, 1),
        last_s=await _edge(conn, -1),
        size_bytes=integer(storage.get("size")),
        max_bytes=integer(storage.get("maxSize")),
    )


class HealthSource:
    def __init__(self) -> None:
        self._oplog: Every[Oplog | None] = Every(OPLOG_S, None)
        self._refused: Notice | None = None

    async def read(
        self, conn: Connection, server: ServerSummary, sessions: Sequence[Session]
    ) -> tuple[list[Finding], list[Notice]]:
        oplog = None
        if conn.hello.get("setName") and not conn.is_mongos and self._refused is None:
            try:
                oplog = await self._oplog.get(lambda: read_oplog(conn))
            except OperationFailure as exc:
                if exc.code != 13:  # Unauthorized: said once, not retried
                    raise
                self._refused = Notice(
                    Feature.HEALTH,
                    "health: the oplog window is not checked: this user may not read "
                    "local.oplog.rs",
                    MONITOR_HINT,
                )
        return judge(server, sessions, oplog), [self._refused] if self._refused else []
