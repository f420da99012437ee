"""The header line from serverStatus (and replSetGetStatus on a replica set member).

``read`` sends the commands; the rest is pure: documents in, a ``ServerSummary`` out.
Counters are the monotonic totals analysis/ turns into rates: operations by type (``ops``
is the one shown as ops/s), WiredTiger cache pages requested and read (named ``blks_hit`` /
``blks_read`` so the cache hit ratio over the interval comes out as for the other
engines), documents and keys scanned, collection scans, in-memory sorts, write conflicts,
network bytes and operation latencies.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from pymongo.errors import PyMongoError

from dbtop.engines.mongodb.capabilities import StickyNotices
from dbtop.engines.mongodb.connection import MONITOR_ROLE_HINT, Connection, is_connection_error
from dbtop.model import Feature, Notice, ServerSummary, Severity, frozen

_OPCOUNTERS = ("insert", "query", "update", "delete", "getmore", "command")


def number(value: Any) -> float | None:
    """A BSON number as a float (Int64, int, float); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    return None


def integer(value: Any) -> int | None:
    n = number(value)
    return int(n) if n is not None else None


def section(doc: Mapping[str, Any] | None, *path: str) -> Mapping[str, Any]:
    """A nested sub-document, or an empty mapping when any step is missing or not one."""
    current: Any = doc or {}
    for key in path:
        current = current.get(key) if isinstance(current, Mapping) else None
        if current is None:
            return {}
    return current if isinstance(current, Mapping) else {}


def version_number(version: str | None) -> int | None:
    """``"7.0.12"`` -> 70012, as PostgreSQL's server_version_num orders versions."""
    if not version:
        return None
    match = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", version)
    if not match:
        return None
    major, minor, patch = (int(g or 0) for g in match.groups())
    return major * 10000 + minor * 100 + patch


def role_of(hello: Mapping[str, Any], status: Mapping[str, Any]) -> str:
    if hello.get("msg") == "isdbgrid" or status.get("process") == "mongos":
        return "mongos"
    set_name = hello.get("setName")
    if set_name:
        if hello.get("isWritablePrimary") or hello.get("ismaster"):
            state = "primary"
        elif hello.get("secondary"):
            state = "secondary"
        elif hello.get("arbiterOnly"):
            state = "arbiter"
        else:
            state = "member"
        return f"{state} ({set_name})"
    return "standalone"


def _date(value: Any) -> dt.datetime | None:
    return value if isinstance(value, dt.datetime) else None


def replication(
    repl_status: Mapping[str, Any] | None,
) -> tuple[float | None, list[dict[str, Any]]]:
    """The lag to show (this secondary's, or the worst secondary's when on the primary) and
    one line per member, from replSetGetStatus."""
    if not repl_status:
        return None, []
    members = repl_status.get("members")
    if not isinstance(members, list):
        return None, []
    primary = next(
        (m for m in members if isinstance(m, Mapping) and m.get("stateStr") == "PRIMARY"), None
    )
    primary_optime = _date(primary.get("optimeDate")) if primary else None
    rows: list[dict[str, Any]] = []
    self_lag: float | None = None
    worst: float | None = None
    for member in members:
        if not isinstance(member, Mapping):
            continue
        optime = _date(member.get("optimeDate"))
        lag = None
        if primary_optime is not None and optime is not None and member is not primary:
            lag = max((primary_optime - optime).total_seconds(), 0.0)
        state = str(member.get("stateStr", "?"))
        rows.append(
            {
                "name": str(member.get("name", "?")),
                "state": state,
                "health": number(member.get("health")),
                "lag_s": lag,
                "self": bool(member.get("self")),
            }
        )
        if lag is not None and state == "SECONDARY":
            worst = lag if worst is None else max(worst, lag)
        if member.get("self") and lag is not None:
            self_lag = lag
    my_state = repl_status.get("myState")
    lag = self_lag if my_state == 2 else worst
    return lag, rows


def counters(status: Mapping[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    ops = section(status, "opcounters")
    total = 0.0
    for name in _OPCOUNTERS:
        value = number(ops.get(name))
        if value is not None:
            out[f"ops_{name}"] = value
            total += value
    if ops:
        out["ops"] = total
    cache = section(status, "wiredTiger", "cache")
    requested = number(cache.get("pages requested from the cache"))
    read = number(cache.get("pages read into cache"))
    if requested is not None and read is not None:
        out["blks_hit"] = max(requested - read, 0.0)
        out["blks_read"] = read
    executor = section(status, "metrics", "queryExecutor")
    for key, name in (("scannedObjects", "docs_scanned"), ("scanned", "keys_scanned")):
        value = number(executor.get(key))
        if value is not None:
            out[name] = value
    collscans = number(section(executor, "collectionScans").get("total"))
    if collscans is not None:
        out["collscans"] = collscans
    operation = section(status, "metrics", "operation")
    for key, name in (("scanAndOrder", "in_memory_sorts"), ("writeConflicts", "write_conflicts")):
        value = number(operation.get(key))
        if value is not None:
            out[name] = value
    network = section(status, "network")
    for key, name in (("bytesIn", "net_bytes_in"), ("bytesOut", "net_bytes_out")):
        value = number(network.get(key))
        if value is not None:
            out[name] = value
    latencies = section(status, "opLatencies")
    for kind in ("reads", "writes", "commands", "transactions"):
        entry = section(latencies, kind)
        latency, count = number(entry.get("latency")), number(entry.get("ops"))
        if latency is not None and count is not None:
            out[f"{kind}_latency_us"] = latency
            out[f"{kind}_ops"] = count
    return out


def _queue(doc: Mapping[str, Any]) -> dict[str, int | None]:
    return {k: integer(doc.get(k)) for k in ("total", "readers", "writers")}


def summarize(
    status: Mapping[str, Any],
    *,
    address: str,
    hello: Mapping[str, Any],
    repl_status: Mapping[str, Any] | None = None,
    database: str | None = None,
) -> ServerSummary:
    version = str(status.get("version") or hello.get("version") or "?")
    conns = section(status, "connections")
    current, available = integer(conns.get("current")), integer(conns.get("available"))
    cache = section(status, "wiredTiger", "cache")
    requested = number(cache.get("pages requested from the cache"))
    read = number(cache.get("pages read into cache"))
    hit_ratio = None
    if requested and read is not None:
        hit_ratio = max(0.0, min(1.0, 1.0 - read / requested))
    lag, members = replication(repl_status)
    global_lock = section(status, "globalLock")
    tickets = section(status, "wiredTiger", "concurrentTransactions") or section(
        status, "queues", "execution"
    )
    extra: dict[str, Any] = {
        "process": status.get("process"),
        "host": status.get("host"),
        "me": hello.get("me"),
        "set_name": hello.get("setName"),
        "storage_engine": section(status, "storageEngine").get("name"),
        "lock_queue": _queue(section(global_lock, "currentQueue")),
        "active_clients": _queue(section(global_lock, "activeClients")),
        "connections_active": integer(conns.get("active")),
        "connections_created": integer(conns.get("totalCreated")),
        "resident_mb": integer(section(status, "mem").get("resident")),
        "cache_bytes": integer(cache.get("bytes currently in the cache")),
        "cache_max_bytes": integer(cache.get("maximum bytes configured")),
        "cache_dirty_bytes": integer(cache.get("tracked dirty bytes in the cache")),
    }
    if tickets:
        extra["tickets"] = {
            kind: {k: integer(section(tickets, kind).get(k)) for k in ("out", "available")}
            for kind in ("read", "write")
            if section(tickets, kind)
        }
    if members:
        extra["members"] = members
    return ServerSummary(
        engine="mongodb",
        address=address,
        version=version,
        version_num=version_number(version),
        uptime_s=number(status.get("uptime")),
        role=role_of(hello, status),
        replication_lag_s=lag,
        connections=current,
        max_connections=(current + available) if current is not None and available else None,
        cache_hit_ratio=hit_ratio,
        database=database,
        counters=frozen(counters(status)),
        throughput_counter="ops",
        throughput_label="ops/s",
        extra=frozen({k: v for k, v in extra.items() if v is not None}),
    )


async def read(conn: Connection, sticky: StickyNotices) -> ServerSummary:
    """serverStatus, and replSetGetStatus on a replica set member (its lag, its members)."""
    reply = await conn.command("admin", {"serverStatus": 1, "locks": 0})
    # dbtop's commands so far, this serverStatus included (owntraffic.py)
    sent = conn.own.snapshot()
    repl_status = None
    if conn.hello.get("setName") and not conn.is_mongos:
        try:
            repl_status = await conn.command("admin", {"replSetGetStatus": 1})
        except PyMongoError as exc:
            if is_connection_error(exc):
                raise
            sticky.keep(
                "replSetGetStatus",
                Notice(
                    Feature.SERVER,
                    "replication lag is unknown: replSetGetStatus was refused",
                    MONITOR_ROLE_HINT,
                    Severity.INFO,
                ),
            )
    shown = summarize(
        reply,
        address=conn.address,
        hello=conn.hello,
        repl_status=repl_status,
        database=conn.parts.database,
    )
    return dataclasses.replace(shown, counters=frozen(conn.own.exclude(shown.counters, sent)))
