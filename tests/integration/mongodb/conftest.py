"""A scripted mongod (or mongos) per test, seeded with the shop incident of fixtures.py."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from dbtop.engines.base import ConnectOptions
from dbtop.engines.mongodb import MongoEngine
from tests.integration.mongodb import fixtures as fx
from tests.integration.mongodb.scripted import Collection, ScriptedMongo, World

DAY = dt.timedelta(days=1)


def _orders(now: dt.datetime, shard: str | None = None) -> Collection:
    sizes = {
        "_id_": 30_000_000,
        "status_1": 9_000_000,
        "status_1_created_at_-1": 21_000_000,
        "coupon_code_1": 5_000_000,
    }
    since = now - 10 * DAY
    return Collection(
        stats=[
            fx.coll_stats(
                "shop.orders",
                count=1_200_000,
                avg=480,
                index_sizes=sizes,
                collscans=1_234,
                shard=shard,
            )
        ],
        index_stats=[
            fx.index_stat("_id_", {"_id": 1}, ops=5_000, since=since, shard=shard),
            fx.index_stat("status_1", {"status": 1}, ops=10, since=since, shard=shard),
            fx.index_stat(
                "status_1_created_at_-1",
                {"status": 1, "created_at": -1},
                ops=98_765,
                since=since,
                shard=shard,
            ),
            fx.index_stat("coupon_code_1", {"coupon_code": 1}, ops=0, since=since, shard=shard),
        ],
        specs=[
            fx.index_spec("_id_", {"_id": 1}),
            fx.index_spec("status_1", {"status": 1}),
            fx.index_spec("status_1_created_at_-1", {"status": 1, "created_at": -1}),
            fx.index_spec("coupon_code_1", {"coupon_code": 1}),
        ],
    )


def shop_world(kind: str = "standalone", now: dt.datetime | None = None) -> World:
    now = now or dt.datetime.now(dt.UTC)
    since = now - 10 * DAY
    world = World(kind=kind)
    world.operations = fx.current_ops(now)
    world.idle_connections = [fx.idle_connection(now)]
    world.database_sizes = {"shop": 9_000_000_000, "analytics": 2_000_000_000, "crm": 50_000_000}
    world.collections[("shop", "orders")] = _orders(now)
    world.collections[("shop", "customers")] = Collection(
        stats=[
            fx.coll_stats(
                "shop.customers",
                count=50_000,
                avg=300,
                index_sizes={"_id_": 1_000_000, "email_1": 2_000_000},
            )
        ],
        index_stats=[
            fx.index_stat("_id_", {"_id": 1}, ops=700, since=since),
            fx.index_stat("email_1", {"email": 1}, ops=0, since=since, unique=True),
        ],
        specs=[
            fx.index_spec("_id_", {"_id": 1}),
            fx.index_spec("email_1", {"email": 1}, unique=True),
        ],
    )
    world.collections[("shop", "events")] = Collection(
        stats=[
            fx.coll_stats(
                "shop.events",
                count=800,
                avg=200,
                index_sizes={"_id_": 40_000, "at_1": 30_000},
                collscans=50,
            )
        ],
        index_stats=[
            fx.index_stat("_id_", {"_id": 1}, ops=3, since=since),
            fx.index_stat("at_1", {"at": 1}, ops=0, since=since, expireAfterSeconds=7_776_000),
        ],
        specs=[
            fx.index_spec("_id_", {"_id": 1}),
            fx.index_spec("at_1", {"at": 1}, expireAfterSeconds=7_776_000),
        ],
    )
    world.collections[("crm", "zähler")] = Collection(
        stats=[fx.coll_stats("crm.zähler", count=1_000, avg=100, index_sizes={"_id_": 20_000})],
        index_stats=[fx.index_stat("_id_", {"_id": 1}, ops=1, since=since)],
        specs=[fx.index_spec("_id_", {"_id": 1})],
    )
    for n in range(30):
        name = f"metrics_{n:02d}"
        world.collections[("analytics", name)] = Collection(
            stats=[
                fx.coll_stats(
                    f"analytics.{name}",
                    count=10_000 * (n + 1),
                    avg=100,
                    index_sizes={"_id_": 100_000},
                )
            ],
            index_stats=[fx.index_stat("_id_", {"_id": 1}, ops=n, since=since)],
            specs=[fx.index_spec("_id_", {"_id": 1})],
        )
    world.profile = {"shop": {"level": 1, "slowms": 100}}
    world.profile_entries = {"shop": fx.profile_entries(now)}
    world.explain = lambda db, command, verbosity: explain_reply(world, db, command, verbosity)
    return world


def explain_reply(world: World, db: str, command: dict[str, Any], verbosity: str) -> dict:
    name = next(iter(command))
    coll = command[name]
    ns = f"{db}.{coll}"
    if world.kind == "mongos":
        return fx.explain_sharded(ns, command.get("filter", {}))
    if name == "aggregate":
        return fx.explain_aggregate(ns)
    if coll == "customers":
        return fx.explain_ixscan(ns, command.get("filter", {}))
    filter_doc = command.get("filter") or command.get("query") or {}
    if name == "update":
        filter_doc = command["updates"][0]["q"]
    return fx.explain_collscan_sort(
        ns, filter_doc, command.get("sort", {"created_at": -1}), verbosity != "queryPlanner"
    )


def options(**changes: Any) -> ConnectOptions:
    return ConnectOptions(**{"connect_timeout_s": 2.0, **changes})


@pytest.fixture
def world() -> World:
    return shop_world()


@pytest.fixture(scope="session")
def shared_server() -> Iterator[ScriptedMongo]:
    server = ScriptedMongo(World()).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mongo(shared_server: ScriptedMongo, world: World) -> ScriptedMongo:
    """The scripted server, serving this test's world."""
    return shared_server.reset(world)


@pytest.fixture
async def engine(mongo: ScriptedMongo) -> AsyncIterator[MongoEngine]:
    engine = MongoEngine(mongo.url, options())
    await engine.connect()
    try:
        yield engine
    finally:
        await engine.close()
