"""A wait named only by lockStats: ``locks`` stops at Database IX (granted), the Collection
lock asked for is counted in lockStats.acquireWaitCount; the holder of Collection W blocks."""

import datetime as dt

from dbtop.analysis.lockgraph import build_lock_forest
from dbtop.cli.render import lock_tree
from tests.integration.mongodb import fixtures as fx
from tests.integration.mongodb.test_snapshot import poll


def _ops(now: dt.datetime) -> list[dict]:
    template = fx.current_ops(now)[1]  # an active "op" document shaped as $currentOp's
    holder = {
        **template,
        "opid": 7001,
        "connectionId": 7001,
        "desc": "conn7001",
        "ns": "shop.items",
        "command": {"compact": "items", "$db": "shop"},
        "secs_running": 30,
        "microsecs_running": 30_000_000,
        "waitingForLock": False,
        "locks": fx._locks(Global="w", Database="w", Collection="W"),
        "lockStats": fx._lock_stats(Global="w", Database="w", Collection="W"),
    }
    waiter = {
        **template,
        "opid": 7002,
        "connectionId": 7002,
        "desc": "conn7002",
        "op": "insert",
        "ns": "shop.items",
        "command": {"insert": "items", "ordered": True, "$db": "shop"},
        "secs_running": 4,
        "microsecs_running": 4_000_000,
        "waitingForLock": True,
        "locks": fx._locks(Global="w", Database="w"),
        "lockStats": fx._lock_stats({"Collection": {"w": 1}}, Global="w", Database="w"),
    }
    return [holder, waiter]


async def test_a_wait_only_in_lockstats_draws_the_edge(mongo, world):
    world.operations = _ops(dt.datetime.now(dt.UTC))
    snap = await poll(mongo)
    edges = {(w.waiter, w.blocker): w for w in snap.lock_waits}
    edge = edges[("7002", "7001")]
    assert (edge.lock_type, edge.mode, edge.held_mode) == ("Collection", "IX", "X")
    assert edge.object == "shop.items"
    assert edge.extra["inferred"] is True
    assert "lockStats" in edge.extra["inferred_reason"]
    text = str(lock_tree(snap, build_lock_forest(snap.lock_waits)).label)
    assert "1 waiting" in text
