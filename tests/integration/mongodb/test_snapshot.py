"""Snapshots over the wire protocol: pymongo's async client against the scripted server."""

import datetime as dt
import json

import pytest

from dbtop.analysis.lockgraph import build_lock_forest
from dbtop.analysis.rates import with_rates
from dbtop.cli.snapshot import snapshot_document
from dbtop.engines.mongodb import LABELS, MongoEngine
from dbtop.engines.registry import create_engine
from dbtop.model import Feature, to_jsonable
from tests.integration.mongodb import fixtures as fx
from tests.integration.mongodb.conftest import options, shop_world


def by_id(snapshot):
    return {s.id: s for s in snapshot.sessions}


async def test_the_registry_builds_the_engine(mongo):
    engine = create_engine(mongo.url, options())
    assert isinstance(engine, MongoEngine)
    assert engine.address == f"localhost:{mongo.port}"


async def test_operations_pane(engine, mongo):
    snap = await engine.snapshot()
    assert snap.engine == "mongodb"
    assert snap.capabilities.labels == LABELS
    sessions = by_id(snap)
    assert {"202", "303", "404", "505", "606", "707", "808", "909"} <= set(sessions)
    txn = sessions[f"session:{fx.SESSION_UUID}"]
    assert txn.is_idle and txn.in_transaction
    assert "conn77" not in sessions  # idle connections only on the toggle
    own = [s for s in snap.sessions if s.is_self]
    assert len(own) == 1 and own[0].application == engine.app_name
    assert own[0].query.startswith("db.aggregate([{ $currentOp: { allUsers: true")
    scan = sessions["404"]
    assert scan.query == (
        "db.orders.find({ customer_id: 4711, total: { $gte: 100 } })"
        ".sort({ created_at: -1 }).limit(20)"
    )
    assert scan.extra["plan_summary"] == "COLLSCAN" and scan.duration_s == 95.5
    assert scan.application == "reporting" and scan.client == "10.0.0.23:53001"
    # every monitor command carried a server-side time limit
    for name in ("aggregate", "serverstatus", "listdatabases", "listcollections", "find"):
        assert all(doc.get("maxTimeMS") == 2000 for doc in mongo.commands(name)), name


async def test_idle_toggle_lists_idle_connections(engine):
    engine.include_idle = True
    sessions = by_id(await engine.snapshot())
    assert sessions["conn77"].is_idle and sessions["conn77"].state == "idle"


async def test_lock_tree(engine, mongo):
    snap = await engine.snapshot()
    pipelines = [
        c["pipeline"] for c in mongo.commands("aggregate") if "$currentOp" in c["pipeline"][0]
    ]
    # lockStats stay on the server but for the waiting operations, read apart
    assert pipelines[0][1]["$project"]["lockStats"] == 0
    assert pipelines[0][1]["$project"]["command.lsid"] == 0
    assert pipelines[1][1] == {"$match": {"waitingForLock": True}}
    forest = build_lock_forest(snap.lock_waits)
    session_id = f"session:{fx.SESSION_UUID}"
    assert forest.root_ids == {session_id, "404"}
    edges = {(w.waiter, w.blocker): w for w in snap.lock_waits}
    assert edges[("202", session_id)].held_mode == "IX"
    assert edges[("202", session_id)].mode == "X"
    assert edges[("202", session_id)].object == "shop.orders"
    assert edges[("303", "202")].extra["relation"] == "queued ahead"
    sessions = by_id(snap)
    assert set(sessions["202"].blocked_by) == {session_id, "404"}
    assert sessions["303"].wait == "lock Collection IX"
    assert snap.server.extra["lock_queue"] == {"total": 4, "readers": 1, "writers": 3}


async def test_slow_queries_from_the_profiler_and_running_operations(engine, world):
    snap = await engine.snapshot()
    statements = {s.query: s for s in snap.statements}
    slow = statements[
        "db.orders.find({ customer_id: ?, total: { $gte: ? } }).sort({ created_at: -1 }).limit(?)"
    ]
    assert slow.calls == 5 and slow.database == "shop"
    assert snap.capabilities.has(Feature.STATEMENTS)
    running = [e for e in snap.slow_events if e.extra.get("source") == "currentOp"]
    assert [e.id for e in running][:3] == ["op:404", "op:202", "op:303"]
    assert all(not e.id.startswith("op:9000") for e in running)  # never dbtop's own
    profiled = [e for e in snap.slow_events if e.extra.get("source") == "system.profile"]
    assert len(profiled) == len(fx.profile_entries(dt.datetime.now(dt.UTC)))
    assert snap.extra["profiling"]["shop"]["level"] == 1
    assert snap.extra["profiling"]["crm"]["level"] == 0

    # new profile entries arrive: counters grow, rates come out of two snapshots
    now = dt.datetime.now(dt.UTC)
    later = fx.profile_entries(now + dt.timedelta(minutes=20))[:2]
    world.profile_entries["shop"].extend(later)
    second = with_rates(snap, await engine.snapshot())
    slow2 = {s.query: s for s in second.statements}[slow.query]
    assert slow2.calls == 7
    assert second.rates is not None and slow.id in second.rates.statements
    assert second.rates.statements[slow.id].counters["docs_examined"] > 0
    assert second.rates.server["ops"] > 0


async def test_profile_reads_only_new_entries(engine, mongo):
    await engine.snapshot()
    await engine.snapshot()
    finds = mongo.commands("find")
    assert finds[0]["filter"] == {}
    assert "$gte" in finds[-1]["filter"]["ts"]
    assert finds[-1]["sort"] == {"$natural": -1}
    assert finds[-1]["projection"]["execStats"] == 0


async def test_indexes_pane_is_bounded_to_the_largest_collections(engine, mongo):
    first = await engine.snapshot()
    assert len(first.tables) == 20  # of 34 collections
    collstats_first = len(mongo.commands("aggregate"))
    second = await engine.snapshot()
    tables = {t.key: t for t in second.tables}
    assert "shop.orders" in tables and tables["shop.orders"].live_rows == 1_200_000
    assert tables["shop.orders"].seq_scans == 1_237
    assert len(second.tables) == 20
    indexes = {(i.table, i.name): i for i in second.indexes}
    assert indexes[("orders", "coupon_code_1")].unused
    assert indexes[("orders", "status_1")].duplicate_of == "status_1_created_at_-1"
    assert indexes[("orders", "status_1_created_at_-1")].size_bytes == 21_000_000
    kinds = {(f.kind, f.object) for f in second.findings}
    assert ("unused_index", "shop.orders.coupon_code_1") in kinds
    assert ("unused_index", "shop.customers.email_1") in kinds
    assert ("redundant_index", "shop.orders.status_1") in kinds
    assert ("collscan", "shop.orders") in kinds
    assert ("unused_index", "shop.events.at_1") not in kinds  # a TTL index
    # the catalog is not listed again within the minute, and per poll only the top
    # collections are read (plus a few being sized)
    assert len(mongo.commands("listcollections")) == 3
    per_poll = len(mongo.commands("aggregate")) - collstats_first
    assert per_poll <= 1 + 2 * 20 + 25


async def test_json_document_has_the_same_keys_as_every_engine(engine):
    snap = await engine.snapshot()
    document = snapshot_document(snap)
    text = json.dumps(document, ensure_ascii=False)
    assert json.loads(text)["engine"] == "mongodb"
    assert set(document) == {
        "format",
        *to_jsonable(snap).keys(),
        "lock_roots",
        "lock_cycles",
        "blocked_count",
        "lock_frees",
    }
    assert document["lock_roots"][0] in ("404", f"session:{fx.SESSION_UUID}")


async def poll(server, url=None):
    engine = MongoEngine(url or server.url, options())
    await engine.connect()
    try:
        return await engine.snapshot()
    finally:
        await engine.close()


async def test_cursors_with_many_batches(mongo, world):
    now = dt.datetime.now(dt.UTC)
    template = fx.current_ops(now)[3]
    world.operations = [
        {**template, "opid": 10_000 + n, "connectionId": 10_000 + n} for n in range(1_100)
    ]
    snap = await poll(mongo)
    assert len([s for s in snap.sessions if not s.is_self]) == 1_100
    assert mongo.commands("getMore")


async def test_replica_set_member(mongo):
    server = mongo.reset(shop_world(kind="replset"))
    snap = await poll(server, server.url_for("shop"))
    assert snap.server.role == "primary (rs0)"
    assert snap.server.replication_lag_s == 7.0
    assert snap.server.database == "shop"
    assert snap.extra["topology"] == "replicaSet"
    assert {s.node for s in snap.statements} == {f"localhost:{server.port}"}
    # a database in the URL scopes the profiler and the indexes to it
    assert {t.schema for t in snap.tables} == {"shop"}
    assert not server.commands("listDatabases")


async def test_mongos_shows_shards_and_says_the_profiler_is_per_shard(mongo):
    server = mongo.reset(shop_world(kind="mongos"))
    snap = await poll(server)
    assert snap.server.role == "mongos"
    sessions = by_id(snap)
    assert sessions["shard01:404"].node == "shard01"
    assert snap.statements == ()
    assert any("mongos" in n.message for n in snap.capabilities.notices)
    assert not server.commands("profile")
    assert not snap.capabilities.has(Feature.PROFILER)
    (why,) = snap.capabilities.notices_for(Feature.PROFILER)
    assert "cannot switch the profiler through mongos" in why.message


async def test_capabilities_are_declared_features(engine):
    snap = await engine.snapshot()
    caps = snap.capabilities
    assert caps.has(Feature.IDLE_ON_REQUEST) and caps.has(Feature.PROFILER)
    assert caps.has(Feature.CANCEL) and caps.has(Feature.TERMINATE)
    assert caps.profiler_databases  # the watched databases
    assert all(isinstance(n.feature, Feature) for n in (*caps.notices, *snap.notices))


async def test_missing_privileges_become_notices(mongo, world):
    world.refuse |= {"currentOp-allUsers", "serverStatus", "indexStats"}
    world.user = "report"
    snap = await poll(mongo)
    # only this user's operations, with the reason and the grant
    assert {s.id for s in snap.sessions if not s.is_self} == {"404"}
    messages = " | ".join(n.message for n in (*snap.notices, *snap.capabilities.notices))
    assert "only this user's operations" in messages
    assert "serverStatus" in messages and "not authorized" in messages
    assert "$indexStats were refused" in messages
    assert snap.server.version == "?"
    assert snap.indexes == ()


async def test_profiling_off_says_how_to_turn_it_on(mongo, world):
    world.profile = {}
    snap = await poll(mongo)
    assert snap.statements == ()
    assert not snap.capabilities.has(Feature.STATEMENTS)
    (notice,) = [n for n in snap.capabilities.notices if n.feature == "statements"]
    assert "profiler is off" in notice.message
    assert "setProfilingLevel(1, { slowms: 100 })" in notice.hint
    # long-running operations are still there
    assert any(e.extra.get("source") == "currentOp" for e in snap.slow_events)


@pytest.mark.parametrize("max_wire", [17, 21])
async def test_mongodb_6_and_7_handshakes(mongo, world, max_wire):
    world.max_wire = max_wire
    world.version = "6.0.14" if max_wire == 17 else "7.0.12"
    snap = await poll(mongo)
    assert snap.server.version == world.version
