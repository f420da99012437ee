"""Health checks and index build progress over the scripted wire protocol: a replica set
whose secondary lags, a member recovering, a nearly full oplog holding half an hour,
write tickets all but gone, a full cache, a long query and an index build that moves
between two polls. Each finding's kind and object are asserted."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bson import Int64, Timestamp

from dbtop.engines.mongodb import MongoEngine
from tests.integration.mongodb.conftest import options, shop_world
from tests.integration.mongodb.scripted import Collection, ScriptedMongo

MB = 1024 * 1024


def _repl(reply: dict[str, Any]) -> None:
    secondary = reply["members"][1]
    primary_time = reply["members"][0]["optimeDate"]
    secondary["optimeDate"] = primary_time - dt.timedelta(seconds=120)
    reply["members"].append(
        {
            **secondary,
            "_id": 2,
            "name": "db3.example.net:27017",
            "state": 3,
            "stateStr": "RECOVERING",
        }
    )


def _status(reply: dict[str, Any]) -> None:
    wired = reply["wiredTiger"]
    wired["concurrentTransactions"]["write"] = {"out": 126, "available": 2, "totalTickets": 128}
    wired["cache"]["bytes currently in the cache"] = Int64(4_260_000_000)


def _build(done: int) -> dict[str, Any]:
    return {
        "msg": f"Index Build: scanning collection Index Build: scanning collection: "
        f"{done}/100000 {done // 1000}%",
        "progress": {"done": done, "total": 100000},
    }


async def test_replica_set_health_and_index_build(shared_server: ScriptedMongo) -> None:
    now = dt.datetime.now(dt.UTC)
    world = shop_world("replset", now)
    world.repl_patch = _repl
    world.status_patch = _status
    world.collections[("local", "oplog.rs")] = Collection(
        stats=[{"ns": "local.oplog.rs", "storageStats": {"size": 990 * MB, "maxSize": 1000 * MB}}],
        index_stats=[],
        specs=[],
    )
    stamp = int(now.timestamp())
    world.oplog = [{"ts": Timestamp(stamp - 1800, 1)}, {"ts": Timestamp(stamp, 1)}]
    build = next(op for op in world.operations if op.get("opid") == 202)
    build.update(_build(45000))
    mongo = shared_server.reset(world)

    engine = MongoEngine(mongo.url, options())
    await engine.connect()
    try:
        await engine.snapshot()
        build.update(_build(60000))
        snapshot = await engine.snapshot()
    finally:
        await engine.close()

    found = {(f.kind, f.object): f for f in snapshot.findings}
    assert found[("replication_lag", "db2.example.net:27017")].severity == "critical"
    assert found[("replica_member_state", "db3.example.net:27017")].severity == "warning"
    oplog = found[("oplog_window", "local.oplog.rs")]
    assert oplog.severity == "critical" and oplog.extra["window_s"] == 1800
    assert found[("wiredtiger_tickets", "write tickets")].severity == "critical"
    assert ("wiredtiger_tickets", "read tickets") not in found
    assert ("cache_pressure", "WiredTiger cache") in found
    slow = next(s for s in snapshot.sessions if s.extra.get("opid") == 404)
    assert ("long_operation", slow.id) in found

    indexing = next(s for s in snapshot.sessions if s.extra.get("opid") == 202)
    progress = indexing.progress
    assert progress is not None
    assert (progress.command, progress.phase) == ("index build", "scanning collection")
    assert progress.percent == 60.0
    assert progress.eta_s is not None and progress.eta_s > 0
