"""Kill, explain, suggest and the profiler switch against the scripted server."""

import datetime as dt

import pytest
from bson.binary import Binary

from dbtop.engines.mongodb import MongoEngine
from dbtop.errors import NotFoundError, PrivilegeError, QueryError, RefusedError, UsageError
from dbtop.model import Feature, KillMode
from tests.integration.mongodb import fixtures as fx
from tests.integration.mongodb.conftest import options, shop_world


async def connected(server, url=None, **changes):
    engine = MongoEngine(url or server.url, options(**changes))
    await engine.connect()
    return engine


# -- kill -------------------------------------------------------------------------------------


async def test_kill_op(engine, mongo, world):
    await engine.snapshot()
    result = await engine.kill("404", KillMode.CANCEL)
    assert result.ok and result.session_id == "404"
    assert "killOp sent to operation 404 (query shop.orders)" in result.message
    (kill_op,) = mongo.commands("killOp")
    assert kill_op["op"] == 404
    # the operation was looked up again right before, by its opid
    lookup = mongo.commands("aggregate")[-1]["pipeline"]
    assert lookup[1] == {"$match": {"opid": 404}}
    assert "404" not in {s.id for s in (await engine.snapshot()).sessions}


async def test_terminate_ends_the_logical_session(engine, mongo):
    session_id = f"session:{fx.SESSION_UUID}"
    result = await engine.kill(session_id, KillMode.TERMINATE)
    assert "killSessions" in result.message
    (command,) = mongo.commands("killSessions")
    assert command["killSessions"] == [{"id": Binary.from_uuid(fx.SESSION_UUID)}]
    with pytest.raises(RefusedError, match="no operation to kill"):
        await engine.kill(session_id, KillMode.CANCEL)


async def test_an_operation_that_ended_between_listing_and_kill(engine, mongo, world):
    snap = await engine.snapshot()
    assert "404" in {s.id for s in snap.sessions}
    world.operations = [op for op in world.operations if op.get("opid") != 404]
    with pytest.raises(NotFoundError, match="not running any more"):
        await engine.kill("404", KillMode.CANCEL)
    assert not mongo.commands("killOp")


async def test_never_kills_its_own_or_server_threads(engine, mongo):
    snap = await engine.snapshot()
    own = next(s for s in snap.sessions if s.is_self)
    assert own.id  # listed, marked
    # the lookup runs a new $currentOp: its own operation has a new opid, so refuse by
    # appName on whatever the id names now
    mongo.world.operations.append(
        {**fx.current_ops(dt.datetime.now(dt.UTC))[3], "opid": 4242, "appName": engine.app_name}
    )
    with pytest.raises(RefusedError, match="dbtop's own"):
        await engine.kill("4242", KillMode.CANCEL)
    with pytest.raises(RefusedError, match="server thread"):
        await engine.kill("606", KillMode.CANCEL)
    assert not mongo.commands("killOp")


async def test_kill_refused_in_read_only_mode(mongo):
    engine = await connected(mongo, read_only=True)
    try:
        snap = await engine.snapshot()
        assert not snap.capabilities.has(Feature.CANCEL) and not snap.capabilities.has(
            Feature.TERMINATE
        )
        with pytest.raises(RefusedError, match="read-only"):
            await engine.kill("404", KillMode.CANCEL)
        with pytest.raises(RefusedError, match="read-only"):
            await engine.set_profiling("shop", 50)
    finally:
        await engine.close()
    assert not mongo.commands("killOp") and not [
        c for c in mongo.commands("profile") if c["profile"] != -1
    ]


async def test_kill_without_the_privilege(engine, world):
    world.refuse.add("killOp")
    with pytest.raises(PrivilegeError, match="hostManager"):
        await engine.kill("404", KillMode.CANCEL)


async def test_kill_on_a_mongos_uses_the_shard_opid(mongo):
    server = mongo.reset(shop_world(kind="mongos"))
    engine = await connected(server)
    try:
        await engine.kill("shard01:404", KillMode.CANCEL)
    finally:
        await engine.close()
    assert server.commands("killOp")[0]["op"] == "shard01:404"


async def test_idle_connections_cannot_be_killed(engine):
    engine.include_idle = True
    await engine.snapshot()
    with pytest.raises(RefusedError, match="no operation to kill"):
        await engine.kill("conn77", KillMode.CANCEL)
    with pytest.raises(RefusedError, match="no logical session"):
        await engine.kill("conn77", KillMode.TERMINATE)


async def test_kill_bad_id(engine):
    with pytest.raises(UsageError, match="not an operation id"):
        await engine.kill("'; drop", KillMode.CANCEL)


# -- explain ----------------------------------------------------------------------------------


async def test_explain_an_operation(engine, mongo):
    plan = await engine.explain(session_id="404")
    assert not plan.analyzed
    assert [n.name for n in plan.root.walk()] == ["SORT", "COLLSCAN"]
    assert plan.query.startswith("shop: db.orders.find({ customer_id: 4711")
    assert any(note.startswith("COLLSCAN") for note in plan.notes)
    (sent,) = mongo.commands("explain")
    assert sent["verbosity"] == "queryPlanner"
    assert sent["explain"] == {
        "find": "orders",
        "filter": {"customer_id": 4711, "total": {"$gte": 100}},
        "sort": {"created_at": -1},
        "limit": 20,
    }
    assert sent["$db"] == "shop" and "maxTimeMS" in sent


async def test_explain_a_typed_query_with_execution_stats(engine, mongo):
    plan = await engine.explain(
        query='db.getSiblingDB("shop").orders.find({ customer_id: 1, total: { $gte: 5 } })'
        ".sort({ created_at: -1 }).limit(20)",
        analyze=True,
    )
    assert plan.analyzed
    scan = plan.root.children[0]
    assert scan.extra["docsExamined"] == 1_200_000 and scan.actual_rows == 214
    assert any("60,000 documents per document returned" in n for n in plan.notes)
    assert mongo.commands("explain")[0]["verbosity"] == "executionStats"


async def test_explain_a_write_plans_it_and_never_runs_it(engine, mongo):
    plan = await engine.explain(session_id="303")
    assert "queryPlanner only: explain never executes a write" in plan.notes
    assert mongo.commands("explain")[0]["explain"]["update"] == "orders"
    with pytest.raises(RefusedError, match="runs the command"):
        await engine.explain(session_id="303", analyze=True)
    with pytest.raises(RefusedError):
        await engine.explain(
            query='db.getSiblingDB("shop").orders.deleteMany({ a: 1 })', analyze=True
        )
    assert len(mongo.commands("explain")) == 1


async def test_explain_a_slow_query_from_its_sample(engine, mongo):
    snap = await engine.snapshot()
    slow = max(snap.statements, key=lambda s: s.total_ms)
    plan = await engine.explain(query=slow.extra["sample"])
    assert plan.root.name == "SORT"
    sent = mongo.commands("explain")[0]
    assert sent["$db"] == "shop"
    assert sent["explain"]["filter"] == {"customer_id": 4704, "total": {"$gte": 104}}


async def test_explain_errors_are_one_line(engine, mongo):
    with pytest.raises(QueryError, match="unknown operator"):
        await engine.explain(query='db.getSiblingDB("shop").orders.find({ a: { $unknownOp: 1 } })')
    with pytest.raises(UsageError, match="name the database"):
        await engine.explain(query="db.orders.find({})")
    with pytest.raises(QueryError, match="cannot be explained"):
        await engine.explain(session_id="202")  # a createIndexes
    with pytest.raises(NotFoundError):
        await engine.explain(session_id="123456")


async def test_explain_aggregation_and_sharded_plans(engine, mongo):
    plan = await engine.explain(session_id="505")  # a getMore: its aggregation is explained
    assert plan.root.name == "$sort"
    server = mongo.reset(shop_world(kind="mongos"))
    sharded = await connected(server, server.url_for("shop"))
    try:
        plan = await sharded.explain(query="db.orders.find({ a: 1 })")
    finally:
        await sharded.close()
    assert plan.root.name == "SHARD_MERGE"
    assert [c.detail for c in plan.root.children] == ["shard01", "shard02"]


# -- suggest ----------------------------------------------------------------------------------


async def test_suggest(engine):
    advice = await engine.suggest()
    (suggestion,) = advice.suggestions
    assert suggestion.statement == (
        'db.getSiblingDB("shop").orders.createIndex({ customer_id: 1, created_at: -1, total: 1 })'
    )
    assert suggestion.queries[0].calls == 5
    assert "COLLSCAN: 5 of 5 calls" in suggestion.reason
    reasons = {(r.table, r.columns): r.reason for r in advice.rejected}
    assert (
        reasons[("customers", ("email",))] == "already served by index email_1 through its prefix"
    )
    assert "small collection" in reasons[("events", ("type", "at"))]
    kinds = {f.kind for f in advice.findings}
    assert kinds == {"unused_index", "redundant_index", "collscan"}


# -- the profiler switch ----------------------------------------------------------------------


async def test_set_profiling_turns_it_on_and_the_next_poll_reads_it(engine, mongo, world):
    first = await engine.snapshot()
    assert first.extra["profiling"]["crm"]["level"] == 0
    message = await engine.set_profiling("crm", 50)
    assert message == "profiler of crm: level 1, slowms 50 (was level 0, slowms 100)"
    sent = [c for c in mongo.commands("profile") if c["profile"] != -1]
    assert sent == [{"profile": 1, "slowms": 50, "$db": "crm", **_envelope(sent[0])}]
    world.profile_entries["crm"] = [
        {
            "op": "query",
            "ns": "crm.zähler",
            "command": {"find": "zähler", "filter": {"name": "Ä"}, "$db": "crm"},
            "docsExamined": 1000,
            "nreturned": 1,
            "millis": 60,
            "planSummary": "COLLSCAN",
            "ts": fx.naive(dt.datetime.now(dt.UTC)),
        }
    ]
    second = await engine.snapshot()
    assert second.extra["profiling"]["crm"] == {"level": 1, "slowms": 50, "sample_rate": 1.0}
    assert any(s.database == "crm" for s in second.statements)


def _envelope(command):
    return {k: v for k, v in command.items() if k in ("lsid", "$readPreference", "$clusterTime")}


async def test_set_profiling_validation_and_refusals(engine, mongo, world):
    with pytest.raises(UsageError):
        await engine.set_profiling("shop", 100, level=5)
    with pytest.raises(UsageError):
        await engine.set_profiling("bad.name", 100)
    with pytest.raises(UsageError):
        await engine.set_profiling("shop", -1)
    world.refuse.add("profile")
    with pytest.raises(PrivilegeError, match="dbAdmin"):
        await engine.set_profiling("shop", 100)
    server = mongo.reset(shop_world(kind="mongos"))
    on_mongos = await connected(server)
    try:
        with pytest.raises(RefusedError, match="each shard"):
            await on_mongos.set_profiling("shop", 100)
    finally:
        await on_mongos.close()
