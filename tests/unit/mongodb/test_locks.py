"""Lock inference from $currentOp: who holds what a waiter asks for, who is queued ahead."""

from dbtop.analysis.lockgraph import build_lock_forest
from dbtop.engines.mongodb.locks import (
    MAX_BLOCKERS,
    LockInfo,
    infer_waits,
    lock_info,
    waited_resource,
)

BASE = {"FeatureCompatibilityVersion": "w", "ReplicationStateTransition": "w"}


def op(op_id, ns, waiting=False, running=1.0, node="n1", waits=None, **modes):
    return LockInfo(
        id=op_id,
        namespace=ns,
        locks={**{"FeatureCompatibilityVersion": "IX"}, **modes},
        waiting=waiting,
        waited=waits or {},
        running_s=running,
        node=node,
    )


def edges(*ops):
    return {(e.waiter, e.blocker, e.extra["relation"]) for e in infer_waits(ops)}


def test_the_create_index_behind_a_transaction_chain():
    txn = op("txn", None, running=65, Global="IX", Database="IX", Collection="IX")
    create = op(
        "202",
        "shop.orders",
        waiting=True,
        running=40,
        waits={"Collection": ("X",)},
        Global="IX",
        Database="IX",
        Collection="X",
    )
    update = op(
        "303",
        "shop.orders",
        waiting=True,
        running=12,
        waits={"Collection": ("IX",)},
        Global="IX",
        Database="IX",
        Collection="IX",
    )
    reader = op("404", "shop.orders", running=95, Global="IS", Database="IS", Collection="IS")
    found = edges(txn, create, update, reader)
    assert found == {
        ("202", "txn", "may hold"),
        ("202", "404", "holds"),
        ("303", "202", "queued ahead"),
    }
    forest = build_lock_forest(infer_waits([txn, create, update, reader]))
    assert forest.root_ids == {"txn", "404"}
    assert forest.blocked_count["404"] == 2


def test_compatible_modes_do_not_block():
    reader = op("r", "db.c", Global="IS", Database="IS", Collection="IS")
    writer = op("w", "db.c", waiting=True, waits={"Collection": ("IX",)}, Collection="IX")
    assert edges(reader, writer) == set()


def test_resources_are_scoped_by_namespace_database_and_node():
    holder = op("h", "db.a", Global="IX", Database="IX", Collection="X")
    other_coll = op("w1", "db.b", waiting=True, waits={"Collection": ("IS",)}, Collection="IS")
    other_node = op(
        "w2", "db.a", waiting=True, node="n2", waits={"Collection": ("IS",)}, Collection="IS"
    )
    same = op("w3", "db.a", waiting=True, waits={"Collection": ("IS",)}, Collection="IS")
    assert edges(holder, other_coll, other_node, same) == {("w3", "h", "holds")}
    db_holder = op("dbx", "shop.x", Global="IX", Database="X")
    db_waiter = op("dbw", "shop.y", waiting=True, waits={"Database": ("IX",)}, Database="IX")
    other_db = op("odb", "crm.y", waiting=True, waits={"Database": ("IX",)}, Database="IX")
    assert edges(db_holder, db_waiter, other_db) == {("dbw", "dbx", "holds")}


def test_global_waits_are_capped():
    holders = [op(f"h{n}", f"db.c{n}", running=n, Global="IX") for n in range(30)]
    waiter = op("fsync", None, waiting=True, running=0.1, waits={"Global": ("X",)}, Global="X")
    found = infer_waits([*holders, waiter])
    assert len(found) == MAX_BLOCKERS
    assert found[0].blocker == "h29"  # the longest-running first
    assert found[0].extra["more_blockers"] == 30 - MAX_BLOCKERS


def test_waited_resource_is_the_deepest():
    info = op(
        "w",
        "db.c",
        waiting=True,
        waits={"Global": ("IX",), "Collection": ("X",)},
        Global="IX",
        Database="IX",
        Collection="X",
    )
    assert waited_resource(info) == ("Collection", "X")
    no_stats = op("w", "db.c", waiting=True, Global="IX", Database="X")
    assert waited_resource(no_stats) == ("Database", "X")
    assert waited_resource(op("n", "db.c", Global="IX")) is None


def test_lock_info_reads_legacy_letters_and_lock_stats():
    info = lock_info(
        "7",
        {
            "ns": "shop.orders",
            "waitingForLock": True,
            "locks": {**BASE, "Global": "w", "Database": "w", "Collection": "W", "odd": 5},
            "lockStats": {
                "Collection": {"acquireCount": {"W": 1}, "acquireWaitCount": {"W": 1, "r": 0}},
                "Global": {"acquireCount": {"w": 1}},
            },
        },
        running_s=3.0,
    )
    assert info is not None
    assert info.locks["Collection"] == "X" and info.locks["Global"] == "IX"
    assert "odd" not in info.locks
    assert info.waited == {"Collection": ("X",)}
    assert lock_info("8", {"locks": {}}, 0.0) is None
    nested = lock_info("9", {"locks": {"Collection": {"mode": "r"}}}, 0.0)
    assert nested is not None and nested.locks == {"Collection": "IS"}
