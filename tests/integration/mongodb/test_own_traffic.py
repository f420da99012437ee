"""dbtop's own commands are not the server's work: against a scripted mongod whose
serverStatus counts every command it received (as mongod does, handshakes and heartbeats
included) plus the application's, the ops dbtop shows are the application's only, and the
profiler's entries of dbtop's own client are not in Slow queries."""

from __future__ import annotations

import copy

from dbtop.analysis.rates import compute_rates
from dbtop.engines.mongodb import MongoEngine
from tests.integration.mongodb.conftest import options


async def test_ops_leave_dbtop_out(mongo, world):
    world.app_ops = {"query": 0, "command": 0}
    engine = MongoEngine(mongo.url, options())
    await engine.connect()
    try:
        first = await engine.snapshot()
        second = await engine.snapshot()
        world.app_ops = {"query": 40, "command": 7, "insert": 3}
        third = await engine.snapshot()
    finally:
        await engine.close()

    def grown(before, after, name):
        return after.server.counters[name] - before.server.counters[name]

    assert len(mongo.commands("serverstatus")) == 3
    # dbtop alone between the first two polls: nothing
    assert grown(first, second, "ops") == 0
    # then exactly the application's 50 operations, each in its category
    assert grown(second, third, "ops") == 50
    assert grown(second, third, "ops_query") == 40
    assert grown(second, third, "ops_command") == 7
    assert grown(second, third, "ops_insert") == 3
    rates = compute_rates(first, third)
    assert rates is not None and not rates.reset


async def test_profiler_entries_of_dbtop_are_not_slow_queries(mongo, world):
    engine = MongoEngine(mongo.url, options())
    mine = copy.deepcopy(world.profile_entries["shop"][-1])
    mine.update(appName=engine.app_name, ns="shop.dbtop_own_probe")
    mine["command"] = {"find": "dbtop_own_probe", "filter": {"x": 1}}
    world.profile_entries["shop"].append(mine)
    await engine.connect()
    try:
        snapshot = await engine.snapshot()
    finally:
        await engine.close()
    assert snapshot.statements  # the application's shapes are there
    assert not [s for s in snapshot.statements if "dbtop_own_probe" in (s.query or "")]
    assert not [e for e in snapshot.slow_events if "dbtop_own_probe" in (e.query or "")]
