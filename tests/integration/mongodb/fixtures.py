"""Recorded reply documents, shaped as MongoDB 6.0 / 7.0 documents them.

Each builder names the manual page its document follows. Values are those of a small shop
deployment with a classic incident in it: a long transaction holding the collection's
intent lock, a createIndex queued behind it for the exclusive lock, writes queued behind the
createIndex; a slow find that reads the whole collection and sorts in memory; and awkward
documents (missing fields, a huge command, binary data, non-ASCII and escape characters).

Times are relative to ``now`` so "unused since ten days" stays true whenever the tests run.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from bson import Int64, ObjectId, Timestamp
from bson.binary import Binary
from bson.regex import Regex

UTC = dt.UTC
SESSION_UUID = uuid.UUID("3b241101-e2bb-4255-8caf-4136c566a962")
PROCESS_ID = ObjectId("65a1f0c2e4b0a1b2c3d4e5f6")


def naive(value: dt.datetime) -> dt.datetime:
    """BSON dates travel without a zone (UTC)."""
    return value.astimezone(UTC).replace(tzinfo=None)


def iso(value: dt.datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# https://www.mongodb.com/docs/manual/reference/command/hello/ (output of a standalone, a
# replica set primary and a mongos; 7.0 reports maxWireVersion 21, 6.0 reports 17)
def hello(port: int, *, kind: str = "standalone", max_wire: int = 21) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "isWritablePrimary": True,
        "topologyVersion": {"processId": PROCESS_ID, "counter": Int64(0)},
        "maxBsonObjectSize": 16777216,
        "maxMessageSizeBytes": 48000000,
        "maxWriteBatchSize": 100000,
        "localTime": naive(dt.datetime.now(UTC)),
        "logicalSessionTimeoutMinutes": 30,
        "connectionId": 41,
        "minWireVersion": 0,
        "maxWireVersion": max_wire,
        "readOnly": False,
        "ok": 1.0,
    }
    host = f"localhost:{port}"
    if kind == "replset":
        doc.update(
            {
                "hosts": [host],
                "setName": "rs0",
                "setVersion": 1,
                "secondary": False,
                "primary": host,
                "me": host,
                "electionId": ObjectId("7fffffff0000000000000003"),
                "lastWrite": {
                    "opTime": {"ts": Timestamp(1700000000, 1), "t": Int64(3)},
                    "lastWriteDate": naive(dt.datetime.now(UTC)),
                    "majorityOpTime": {"ts": Timestamp(1700000000, 1), "t": Int64(3)},
                    "majorityWriteDate": naive(dt.datetime.now(UTC)),
                },
            }
        )
    elif kind == "mongos":
        doc["msg"] = "isdbgrid"
        del doc["topologyVersion"]
    return doc


# https://www.mongodb.com/docs/manual/reference/command/serverStatus/ (7.0 output; the
# sections dbtop reads: connections, globalLock, network, opLatencies, opcounters, mem,
# storageEngine, wiredTiger.cache, wiredTiger.concurrentTransactions, metrics)
def server_status(
    *, kind: str = "standalone", version: str = "7.0.12", ops: int = 0, queue: int = 4
) -> dict[str, Any]:
    now = dt.datetime.now(UTC)
    doc: dict[str, Any] = {
        "host": "db1.example.net:27017",
        "version": version,
        "process": "mongos" if kind == "mongos" else "mongod",
        "pid": Int64(4242),
        "uptime": 864000.0,
        "uptimeMillis": Int64(864000123),
        "uptimeEstimate": Int64(864000),
        "localTime": naive(now),
        "asserts": {"regular": 0, "warning": 0, "msg": 0, "user": 112, "rollovers": 0},
        "connections": {
            "current": 57,
            "available": 838803,
            "totalCreated": 2211,
            "rejected": 0,
            "active": 14,
            "threaded": 57,
            "exhaustIsMaster": 0,
            "exhaustHello": 2,
            "awaitingTopologyChanges": 2,
        },
        "globalLock": {
            "totalTime": Int64(864000123000),
            "currentQueue": {"total": queue, "readers": 1, "writers": queue - 1},
            "activeClients": {"total": 12, "readers": 5, "writers": 7},
        },
        "network": {
            "bytesIn": Int64(912_345_678 + ops * 100),
            "bytesOut": Int64(7_812_345_678 + ops * 900),
            "physicalBytesIn": Int64(812_345_678),
            "physicalBytesOut": Int64(6_812_345_678),
            "numSlowDNSOperations": Int64(0),
            "numSlowSSLOperations": Int64(0),
            "numRequests": Int64(5_123_456 + ops),
        },
        "opLatencies": {
            "reads": {"latency": Int64(98_765_432 + ops * 50), "ops": Int64(1_234_567 + ops)},
            "writes": {"latency": Int64(45_678_901), "ops": Int64(345_678)},
            "commands": {"latency": Int64(12_345_678), "ops": Int64(2_345_678)},
            "transactions": {"latency": Int64(0), "ops": Int64(0)},
        },
        "opcounters": {
            "insert": Int64(345_678),
            "query": Int64(1_234_567 + ops),
            "update": Int64(223_344),
            "delete": Int64(1_234),
            "getmore": Int64(45_678),
            "command": Int64(2_345_678 + ops),
        },
        "mem": {"bits": 64, "resident": 3412, "virtual": 5120, "supported": True},
        "storageEngine": {
            "name": "wiredTiger",
            "supportsCommittedReads": True,
            "oldestRequiredTimestampForCrashRecovery": Timestamp(0, 0),
            "supportsPendingDrops": True,
            "dropPendingIdents": Int64(0),
            "supportsSnapshotReadConcern": True,
            "readOnly": False,
            "persistent": True,
            "backupCursorOpen": False,
        },
        "wiredTiger": {
            "cache": {
                "bytes currently in the cache": Int64(2_147_483_648),
                "maximum bytes configured": Int64(4_294_967_296),
                "tracked dirty bytes in the cache": Int64(12_345_678),
                "pages read into cache": Int64(1_000_000 + ops // 10),
                "pages requested from the cache": Int64(250_000_000 + ops * 10),
            },
            "concurrentTransactions": {
                "write": {"out": 3, "available": 125, "totalTickets": 128},
                "read": {"out": 5, "available": 123, "totalTickets": 128},
            },
        },
        "metrics": {
            "operation": {"scanAndOrder": Int64(3_456), "writeConflicts": Int64(78)},
            "queryExecutor": {
                "scanned": Int64(98_765_432),
                "scannedObjects": Int64(987_654_321 + ops * 1000),
                "collectionScans": {"nonTailable": Int64(4_321), "total": Int64(4_400)},
            },
        },
        "ok": 1.0,
    }
    if kind == "replset":
        doc["repl"] = {
            "topologyVersion": {"processId": PROCESS_ID, "counter": Int64(6)},
            "hosts": ["db1.example.net:27017", "db2.example.net:27017"],
            "setName": "rs0",
            "setVersion": 2,
            "isWritablePrimary": True,
            "secondary": False,
            "primary": "db1.example.net:27017",
            "me": "db1.example.net:27017",
            "rbid": 1,
        }
    if kind == "mongos":
        for key in ("storageEngine", "wiredTiger", "globalLock"):
            doc.pop(key)
    return doc


# https://www.mongodb.com/docs/manual/reference/command/replSetGetStatus/ (members with
# stateStr, optimeDate, health, self)
def repl_set_status() -> dict[str, Any]:
    now = dt.datetime.now(UTC)
    return {
        "set": "rs0",
        "date": naive(now),
        "myState": 1,
        "term": Int64(3),
        "heartbeatIntervalMillis": Int64(2000),
        "members": [
            {
                "_id": 0,
                "name": "db1.example.net:27017",
                "health": 1.0,
                "state": 1,
                "stateStr": "PRIMARY",
                "uptime": 864000,
                "optime": {"ts": Timestamp(1700000100, 1), "t": Int64(3)},
                "optimeDate": naive(now - dt.timedelta(seconds=1)),
                "self": True,
            },
            {
                "_id": 1,
                "name": "db2.example.net:27017",
                "health": 1.0,
                "state": 2,
                "stateStr": "SECONDARY",
                "uptime": 863000,
                "optime": {"ts": Timestamp(1700000093, 1), "t": Int64(3)},
                "optimeDate": naive(now - dt.timedelta(seconds=8)),
                "syncSourceHost": "db1.example.net:27017",
            },
        ],
        "ok": 1.0,
    }


# https://www.mongodb.com/docs/manual/reference/operator/aggregation/currentOp/ (output
# fields of "op", "idleSession" and "idleConnection" documents, 7.0)
def _client_meta(app: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "driver": {"name": "nodejs", "version": "6.3.0"},
        "os": {"type": "Linux", "name": "linux", "architecture": "x64", "version": "6.5.0"},
        "platform": "Node.js v20.11.0, LE",
    }
    if app:
        meta["application"] = {"name": app}
    return meta


def _locks(**modes: str) -> dict[str, str]:
    return {"FeatureCompatibilityVersion": "w", "ReplicationStateTransition": "w", **modes}


def _lock_stats(waits: dict[str, dict[str, int]] | None = None, **acquired: str) -> dict:
    stats: dict[str, Any] = {}
    for kind, mode in acquired.items():
        stats[kind] = {"acquireCount": {mode: Int64(1)}}
    for kind, counts in (waits or {}).items():
        stats.setdefault(kind, {"acquireCount": {}})
        stats[kind]["acquireWaitCount"] = {m: Int64(n) for m, n in counts.items()}
    return stats


def current_ops(now: dt.datetime) -> list[dict[str, Any]]:
    """The incident: a transaction left open, a createIndex queued for the exclusive lock
    behind it, an update queued behind the createIndex; plus the odd ones."""
    lsid = {"id": Binary.from_uuid(SESSION_UUID), "uid": Binary(b"\x11" * 32, 0)}
    return [
        {
            "type": "idleSession",
            "host": "db1.example.net:27017",
            "desc": "inactive transaction",
            "client": "10.0.0.21:51544",
            "connectionId": 120,
            "appName": "billing-worker",
            "clientMetadata": _client_meta("billing-worker"),
            "lsid": lsid,
            "transaction": {
                "parameters": {
                    "txnNumber": Int64(5),
                    "autocommit": False,
                    "readConcern": {"level": "snapshot"},
                },
                "readTimestamp": Timestamp(1700000000, 1),
                "startWallClockTime": iso(now - dt.timedelta(seconds=65)),
                "timeOpenMicros": Int64(65_000_000),
                "timeActiveMicros": Int64(1_200),
                "timeInactiveMicros": Int64(64_998_800),
                "expiryTime": iso(now + dt.timedelta(seconds=55)),
            },
            "waitingForLock": False,
            "active": False,
            "locks": _locks(Global="w", Database="w", Collection="w"),
            "lockStats": _lock_stats(Global="w", Database="w", Collection="w"),
            "waitingForFlowControl": False,
            "flowControlStats": {"acquireCount": Int64(1)},
        },
        {
            "type": "op",
            "host": "db1.example.net:27017",
            "desc": "conn130",
            "connectionId": 130,
            "client": "10.0.0.5:40112",
            "appName": "MongoDB Shell",
            "clientMetadata": _client_meta("MongoDB Shell"),
            "active": True,
            "currentOpTime": iso(now),
            "effectiveUsers": [{"user": "dba", "db": "admin"}],
            "threaded": True,
            "opid": 202,
            "secs_running": Int64(40),
            "microsecs_running": Int64(40_123_456),
            "op": "command",
            "ns": "shop.orders",
            "command": {
                "createIndexes": "orders",
                "indexes": [{"key": {"sku": 1}, "name": "sku_1"}],
                "lsid": {"id": Binary.from_uuid(uuid.UUID(int=2))},
                "$db": "shop",
            },
            "numYields": 0,
            "waitingForLock": True,
            "locks": _locks(Global="w", Database="w", Collection="W"),
            "lockStats": _lock_stats(
                {"Collection": {"W": 1}}, Global="w", Database="w", Collection="W"
            ),
            "waitingForFlowControl": False,
            "flowControlStats": {},
        },
        {
            "type": "op",
            "host": "db1.example.net:27017",
            "desc": "conn131",
            "connectionId": 131,
            "client": "10.0.0.22:52210",
            "appName": "checkout-api",
            "clientMetadata": _client_meta("checkout-api"),
            "active": True,
            "currentOpTime": iso(now),
            "effectiveUsers": [{"user": "shop_app", "db": "shop"}],
            "opid": 303,
            "lsid": {"id": Binary.from_uuid(uuid.UUID(int=3))},
            "secs_running": Int64(12),
            "microsecs_running": Int64(12_004_000),
            "op": "update",
            "ns": "shop.orders",
            "command": {
                "q": {"_id": ObjectId("65a1f0c2e4b0a1b2c3d40001")},
                "u": {"$set": {"status": "shipped"}},
                "multi": False,
                "upsert": False,
            },
            "planSummary": "IDHACK",
            "numYields": 0,
            "waitingForLock": True,
            "locks": _locks(Global="w", Database="w", Collection="w"),
            "lockStats": _lock_stats({"Collection": {"w": 1}}, Global="w", Database="w"),
        },
        {
            "type": "op",
            "host": "db1.example.net:27017",
            "desc": "conn132",
            "connectionId": 132,
            "client": "10.0.0.23:53001",
            "appName": "reporting",
            "clientMetadata": _client_meta("reporting"),
            "active": True,
            "currentOpTime": iso(now),
            "effectiveUsers": [{"user": "report", "db": "admin"}],
            "opid": 404,
            "lsid": {"id": Binary.from_uuid(uuid.UUID(int=4))},
            "secs_running": Int64(95),
            "microsecs_running": Int64(95_500_000),
            "op": "query",
            "ns": "shop.orders",
            "command": {
                "find": "orders",
                "filter": {"customer_id": 4711, "total": {"$gte": 100}},
                "sort": {"created_at": -1},
                "limit": 20,
                "lsid": {"id": Binary.from_uuid(uuid.UUID(int=4))},
                "$db": "shop",
            },
            "queryFramework": "classic",
            "planSummary": "COLLSCAN",
            "numYields": 951,
            "waitingForLock": False,
            "locks": _locks(Global="r", Database="r", Collection="r"),
            "lockStats": _lock_stats(Global="r", Database="r", Collection="r"),
        },
        {
            "type": "op",
            "host": "db1.example.net:27017",
            "desc": "conn133",
            "connectionId": 133,
            "client": "10.0.0.24:53400",
            "appName": "exporter",
            "active": True,
            "currentOpTime": iso(now),
            "opid": 505,
            "secs_running": Int64(3),
            "microsecs_running": Int64(3_000_000),
            "op": "getmore",
            "ns": "shop.orders",
            "command": {"getMore": Int64(8_442_113_345), "collection": "orders", "$db": "shop"},
            "cursor": {
                "cursorId": Int64(8_442_113_345),
                "createdDate": iso(now - dt.timedelta(minutes=5)),
                "lastAccessDate": iso(now),
                "nDocsReturned": Int64(40_000),
                "nBatchesReturned": Int64(400),
                "noCursorTimeout": False,
                "tailable": False,
                "awaitData": False,
                "originatingCommand": {
                    "aggregate": "orders",
                    "pipeline": [
                        {"$match": {"status": "shipped"}},
                        {"$project": {"_id": 1, "total": 1}},
                    ],
                    "cursor": {},
                    "$db": "shop",
                },
                "planSummary": "IXSCAN { status: 1, created_at: -1 }",
            },
            "planSummary": "IXSCAN { status: 1, created_at: -1 }",
            "numYields": 310,
            "locks": {},
            "waitingForLock": False,
        },
        {
            "type": "op",
            "host": "db1.example.net:27017",
            "desc": "TTLMonitor",
            "active": True,
            "currentOpTime": iso(now),
            "opid": 606,
            "op": "none",
            "ns": "",
            "command": {},
            "numYields": 0,
            "locks": {},
            "waitingForLock": False,
        },
        {
            "type": "op",
            "host": "db1.example.net:27017",
            "desc": "conn134",
            "connectionId": 134,
            "client": "10.0.0.25:53500",
            "appName": "cleanup",
            "active": True,
            "currentOpTime": iso(now),
            "opid": 707,
            "secs_running": Int64(7),
            "microsecs_running": Int64(7_100_000),
            "op": "remove",
            "ns": "shop.events",
            "command": {"q": {"at": {"$lt": naive(now - dt.timedelta(days=90))}}, "limit": 0},
            "planSummary": "COLLSCAN",
            "killPending": True,
            "numYields": 77,
            "locks": _locks(Global="w", Database="w", Collection="w"),
            "waitingForLock": False,
        },
        {
            # awkward: non-ASCII namespace, an escape sequence in the appName, binary data,
            # no secs_running / microsecs_running, no effectiveUsers, no lsid
            "type": "op",
            "desc": "conn135",
            "connectionId": 135,
            "client": "[::1]:53600",
            "appName": "\x1b[31mrot\x1b[0m-Zählwerk",
            "active": True,
            "opid": 808,
            "op": "query",
            "ns": "crm.zähler",
            "command": {
                "find": "zähler",
                "filter": {
                    "kennung": Binary(b"\x00\xff\x10binary\x1b[2J", 0),
                    "sitzung": Binary.from_uuid(uuid.UUID(int=8)),
                    "name": Regex("^Über", "i"),
                },
                "$db": "crm",
            },
            "locks": _locks(Global="r", Database="r", Collection="r"),
            "waitingForLock": False,
        },
        {
            # awkward: a huge command (an aggregation with thousands of stages and a
            # megabyte string), as $currentOp reports it in full
            "type": "op",
            "host": "db1.example.net:27017",
            "desc": "conn136",
            "connectionId": 136,
            "client": "10.0.0.26:53700",
            "appName": "bulk-loader",
            "active": True,
            "currentOpTime": iso(now),
            "opid": 909,
            "secs_running": Int64(1),
            "microsecs_running": Int64(1_500_000),
            "op": "command",
            "ns": "shop.events",
            "command": {
                "aggregate": "events",
                "pipeline": [{"$match": {"k": i}} for i in range(3000)]
                + [{"$addFields": {"blob": "x" * 1_000_000}}],
                "cursor": {},
                "$db": "shop",
            },
            "locks": _locks(Global="r", Database="r", Collection="r"),
            "waitingForLock": False,
        },
    ]


def idle_connection(now: dt.datetime) -> dict[str, Any]:
    # https://www.mongodb.com/docs/manual/reference/operator/aggregation/currentOp/
    # (idleConnections: true adds "idleConnection" documents)
    return {
        "type": "idleConnection",
        "host": "db1.example.net:27017",
        "desc": "conn77",
        "connectionId": 77,
        "client": "10.0.0.30:55000",
        "appName": "pool-idle",
        "clientMetadata": _client_meta("pool-idle"),
        "active": False,
        "currentOpTime": iso(now),
    }


# https://www.mongodb.com/docs/manual/reference/database-profiler/ (profiler output: op, ns,
# command, keysExamined, docsExamined, hasSortStage, nreturned, queryHash, planCacheKey,
# millis, planSummary, ts, client, appName, allUsers, user; "command" holds a "$truncated"
# string when the command exceeds 50 kB)
def profile_entries(now: dt.datetime) -> list[dict[str, Any]]:
    """Oldest first, as the capped collection stores them."""
    entries: list[dict[str, Any]] = []
    base = now - dt.timedelta(minutes=10)

    def entry(seconds: float, **fields: Any) -> dict[str, Any]:
        doc = {
            "numYield": 12,
            "queryFramework": "classic",
            "locks": {"Global": {"acquireCount": {"r": Int64(13)}}},
            "flowControl": {},
            "storage": {},
            "responseLength": 1834,
            "protocol": "op_msg",
            "ts": naive(base + dt.timedelta(seconds=seconds)),
            "client": "10.0.0.22",
            "appName": "checkout-api",
            "allUsers": [{"user": "shop_app", "db": "shop"}],
            "user": "shop_app@shop",
        }
        doc.update(fields)
        return doc

    for n in range(5):
        entries.append(
            entry(
                n * 7,
                op="query",
                ns="shop.orders",
                command={
                    "find": "orders",
                    "filter": {"customer_id": 4700 + n, "total": {"$gte": 100 + n}},
                    "sort": {"created_at": -1},
                    "limit": 20,
                    "lsid": {"id": Binary.from_uuid(uuid.UUID(int=100 + n))},
                    "$db": "shop",
                },
                keysExamined=0,
                docsExamined=1_200_000,
                hasSortStage=True,
                cursorExhausted=True,
                nreturned=20,
                queryHash="B1A8F3C2",
                planCacheKey="4C2E9D10",
                millis=1400 + n * 10,
                planSummary="COLLSCAN",
                planningTimeMicros=412,
                execStats={"stage": "SORT", "nReturned": 20},
            )
        )
    for n in range(3):
        entries.append(
            entry(
                40 + n,
                op="query",
                ns="shop.orders",
                command={
                    "find": "orders",
                    "filter": {"status": "A"},
                    "sort": {"created_at": -1},
                    "limit": 50,
                    "$db": "shop",
                },
                keysExamined=50,
                docsExamined=50,
                cursorExhausted=True,
                nreturned=50,
                queryHash="0F3E1A77",
                millis=120,
                planSummary="IXSCAN { status: 1, created_at: -1 }",
            )
        )
    entries.append(
        entry(
            50,
            op="update",
            ns="shop.orders",
            command={
                "q": {"_id": ObjectId("65a1f0c2e4b0a1b2c3d40002")},
                "u": {"$set": {"status": "paid"}},
                "multi": False,
                "upsert": False,
            },
            keysExamined=1,
            docsExamined=1,
            nMatched=1,
            nModified=1,
            nUpserted=0,
            keysInserted=1,
            keysDeleted=1,
            millis=210,
            planSummary="IDHACK",
        )
    )
    entries.append(
        entry(
            55,
            op="command",
            ns="shop.events",
            command={
                "aggregate": "events",
                "pipeline": [
                    {"$match": {"type": "click", "at": {"$gte": naive(base)}}},
                    {"$group": {"_id": "$page", "n": {"$sum": 1}}},
                ],
                "cursor": {},
                "$db": "shop",
            },
            keysExamined=0,
            docsExamined=800,
            cursorExhausted=True,
            nreturned=12,
            millis=150,
            planSummary="COLLSCAN",
        )
    )
    entries.append(
        entry(
            60,
            op="getmore",
            ns="shop.orders",
            command={"getMore": Int64(8_442_113_345), "collection": "orders", "$db": "shop"},
            originatingCommand={
                "aggregate": "orders",
                "pipeline": [{"$match": {"status": "shipped"}}],
                "cursor": {},
                "$db": "shop",
            },
            keysExamined=101,
            docsExamined=101,
            nreturned=101,
            millis=130,
            planSummary="IXSCAN { status: 1, created_at: -1 }",
        )
    )
    entries.append(
        entry(
            65,
            op="insert",
            ns="shop.orders",
            command={
                "$truncated": '{ insert: "orders", ordered: true, documents: [ { _id: '
                "ObjectId('65a1f0c2e4b0a1b2c3d40003'), items: [ { sku: \"A-1\", qty: 2 }, "
                '{ sku: "B-2", qty: 1 }, ...',
                "comment": "bulk import",
            },
            ninserted=5000,
            keysInserted=20000,
            millis=2300,
        )
    )
    entries.append(
        entry(
            70,
            op="query",
            ns="shop.customers",
            command={
                "find": "customers",
                "filter": {"email": Regex("@example\\.com$", "")},
                "$db": "shop",
            },
            keysExamined=0,
            docsExamined=50_000,
            nreturned=3,
            millis=310,
            planSummary="COLLSCAN",
        )
    )
    return entries


# https://www.mongodb.com/docs/manual/reference/command/listDatabases/
def list_databases(sizes: dict[str, int]) -> dict[str, Any]:
    databases = [
        {"name": name, "sizeOnDisk": Int64(size), "empty": size == 0}
        for name, size in sizes.items()
    ]
    return {"databases": databases, "totalSize": Int64(sum(sizes.values())), "ok": 1.0}


# https://www.mongodb.com/docs/manual/reference/operator/aggregation/collStats/ (storageStats
# and queryExecStats; on a mongos one document per shard, with "shard")
def coll_stats(
    ns: str,
    *,
    count: int,
    avg: int,
    index_sizes: dict[str, int],
    collscans: int = 0,
    shard: str | None = None,
    host: str = "db1.example.net:27017",
) -> dict[str, Any]:
    size = count * avg
    doc: dict[str, Any] = {
        "ns": ns,
        "host": host,
        "localTime": naive(dt.datetime.now(UTC)),
        "storageStats": {
            "size": Int64(size),
            "count": Int64(count),
            "avgObjSize": avg,
            "numOrphanDocs": 0,
            "storageSize": Int64(size // 3),
            "freeStorageSize": Int64(4096),
            "capped": False,
            "wiredTiger": {"metadata": {"formatVersion": 1}, "type": "file"},
            "nindexes": len(index_sizes),
            "indexDetails": {},
            "indexBuilds": [],
            "totalIndexSize": Int64(sum(index_sizes.values())),
            "totalSize": Int64(size // 3 + sum(index_sizes.values())),
            "indexSizes": {k: Int64(v) for k, v in index_sizes.items()},
            "scaleFactor": 1,
        },
        "queryExecStats": {
            "collectionScans": {"total": Int64(collscans + 3), "nonTailable": Int64(collscans)}
        },
    }
    if shard:
        doc["shard"] = shard
    return doc


# https://www.mongodb.com/docs/manual/reference/operator/aggregation/indexStats/ (name, key,
# host, accesses.ops / accesses.since, spec; "shard" on a mongos; "building" while building)
def index_stat(
    name: str,
    key: dict[str, Any],
    *,
    ops: int,
    since: dt.datetime,
    shard: str | None = None,
    **spec: Any,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": name,
        "key": key,
        "host": "db1.example.net:27017",
        "accesses": {"ops": Int64(ops), "since": naive(since)},
        "spec": {"v": 2, "key": key, "name": name, **spec},
    }
    if shard:
        doc["shard"] = shard
    return doc


# https://www.mongodb.com/docs/manual/reference/command/listIndexes/ (index specifications)
def index_spec(name: str, key: dict[str, Any], **options: Any) -> dict[str, Any]:
    return {"v": 2, "key": key, "name": name, **options}


# https://www.mongodb.com/docs/manual/reference/command/killOp/ (mongod reports this whether
# or not the operation still exists)
KILL_OP_REPLY = {"info": "attempting to kill op", "ok": 1.0}

# https://www.mongodb.com/docs/manual/reference/command/profile/ (the reply carries the
# previous level in "was", and slowms / sampleRate)


def profile_reply(level: int, slowms: int = 100, sample_rate: float = 1.0) -> dict[str, Any]:
    return {"was": level, "slowms": slowms, "sampleRate": sample_rate, "ok": 1.0}


# https://www.mongodb.com/docs/manual/reference/explain-results/ (explainVersion 1, classic
# engine: queryPlanner.winningPlan stages with inputStage; executionStats.executionStages
# mirroring them with nReturned, executionTimeMillisEstimate, keysExamined, docsExamined)
def explain_collscan_sort(ns: str, filter_doc: dict, sort: dict, analyzed: bool) -> dict:
    winning = {
        "stage": "SORT",
        "sortPattern": sort,
        "memLimit": 104857600,
        "limitAmount": 20,
        "type": "simple",
        "inputStage": {"stage": "COLLSCAN", "filter": filter_doc, "direction": "forward"},
    }
    doc: dict[str, Any] = {
        "explainVersion": "1",
        "queryPlanner": {
            "namespace": ns,
            "indexFilterSet": False,
            "parsedQuery": filter_doc,
            "queryHash": "B1A8F3C2",
            "planCacheKey": "4C2E9D10",
            "maxIndexedOrSolutionsReached": False,
            "maxIndexedAndSolutionsReached": False,
            "maxScansToExplodeReached": False,
            "winningPlan": winning,
            "rejectedPlans": [],
        },
        "command": {"find": ns.split(".", 1)[1], "filter": filter_doc, "$db": ns.split(".")[0]},
        "serverInfo": {
            "host": "db1.example.net",
            "port": 27017,
            "version": "7.0.12",
            "gitVersion": "b6513ce0781db6818e24619e8a461eae90bc94fc",
        },
        "ok": 1.0,
    }
    if analyzed:
        doc["executionStats"] = {
            "executionSuccess": True,
            "nReturned": 20,
            "executionTimeMillis": 1432,
            "totalKeysExamined": 0,
            "totalDocsExamined": 1_200_000,
            "executionStages": {
                "stage": "SORT",
                "nReturned": 20,
                "executionTimeMillisEstimate": 1210,
                "works": 1_200_023,
                "advanced": 20,
                "needTime": 1_200_002,
                "needYield": 0,
                "saveState": 1_201,
                "restoreState": 1_201,
                "isEOF": 1,
                "sortPattern": sort,
                "memLimit": 104857600,
                "limitAmount": 20,
                "type": "simple",
                "totalDataSizeSorted": Int64(41_000),
                "usedDisk": False,
                "spills": 0,
                "inputStage": {
                    "stage": "COLLSCAN",
                    "filter": filter_doc,
                    "nReturned": 214,
                    "executionTimeMillisEstimate": 1190,
                    "works": 1_200_002,
                    "advanced": 214,
                    "needTime": 1_199_787,
                    "direction": "forward",
                    "docsExamined": 1_200_000,
                },
            },
        }
    return doc


def explain_ixscan(ns: str, filter_doc: dict) -> dict:
    return {
        "explainVersion": "1",
        "queryPlanner": {
            "namespace": ns,
            "indexFilterSet": False,
            "parsedQuery": filter_doc,
            "winningPlan": {
                "stage": "FETCH",
                "inputStage": {
                    "stage": "IXSCAN",
                    "keyPattern": {"email": 1},
                    "indexName": "email_1",
                    "isMultiKey": False,
                    "multiKeyPaths": {"email": []},
                    "isUnique": True,
                    "isSparse": False,
                    "isPartial": False,
                    "indexVersion": 2,
                    "direction": "forward",
                    "indexBounds": {"email": ['["a@example.com", "a@example.com"]']},
                },
            },
            "rejectedPlans": [{"stage": "COLLSCAN"}],
        },
        "serverInfo": {"host": "db1.example.net", "port": 27017, "version": "7.0.12"},
        "ok": 1.0,
    }


def explain_aggregate(ns: str) -> dict:
    """An aggregation whose $group stays in the pipeline: "stages" with a $cursor first."""
    return {
        "explainVersion": "1",
        "stages": [
            {
                "$cursor": {
                    "queryPlanner": {
                        "namespace": ns,
                        "parsedQuery": {"type": {"$eq": "click"}},
                        "winningPlan": {
                            "stage": "PROJECTION_SIMPLE",
                            "transformBy": {"page": 1, "_id": 0},
                            "inputStage": {
                                "stage": "COLLSCAN",
                                "filter": {"type": {"$eq": "click"}},
                                "direction": "forward",
                            },
                        },
                        "rejectedPlans": [],
                    }
                }
            },
            {"$group": {"_id": "$page", "n": {"$sum": {"$const": 1}}}},
            {"$sort": {"sortKey": {"n": -1}}},
        ],
        "serverInfo": {"host": "db1.example.net", "port": 27017, "version": "7.0.12"},
        "ok": 1.0,
    }


def explain_sharded(ns: str, filter_doc: dict) -> dict:
    """On a mongos: queryPlanner.winningPlan has a SHARD_MERGE stage with one plan per shard."""

    def shard(name: str) -> dict:
        return {
            "shardName": name,
            "connectionString": f"{name}/{name}-a.example.net:27018",
            "serverInfo": {"host": f"{name}-a", "port": 27018, "version": "6.0.14"},
            "namespace": ns,
            "indexFilterSet": False,
            "parsedQuery": filter_doc,
            "winningPlan": {
                "stage": "SHARDING_FILTER",
                "inputStage": {"stage": "COLLSCAN", "filter": filter_doc, "direction": "forward"},
            },
            "rejectedPlans": [],
        }

    return {
        "queryPlanner": {
            "mongosPlannerVersion": 1,
            "winningPlan": {"stage": "SHARD_MERGE", "shards": [shard("shard01"), shard("shard02")]},
        },
        "serverInfo": {"host": "mongos1", "port": 27017, "version": "6.0.14"},
        "ok": 1.0,
    }
