"""dbtop's own commands are left out of the figures it shows (issue 12, own traffic), and its
polling costs a private server little (nobody else talks to that server)."""

from __future__ import annotations

import asyncio

import redis

from dbtop.analysis.rates import compute_rates
from dbtop.engines.base import ConnectOptions
from dbtop.engines.redis import RedisEngine

from .conftest import Server

KEYS = 50_000
#: every command name dbtop sends while polling, as INFO commandstats names them
OWN = {
    "info", "client|list", "slowlog|get", "latency|latest", "config|get", "scan", "type",
    "pttl", "memory|usage", "select", "hello", "client|setinfo",
}  # fmt: skip
#: the stated bound on commands one poll sends on a 50k-key keyspace (was ~930)
COMMANDS_PER_POLL = 200


def fill(client: redis.Redis) -> None:
    pipe = client.pipeline(transaction=False)
    for i in range(KEYS):
        pipe.set(f"own:key:{i}", "x")
        if i % 5000 == 4999:
            pipe.execute()
    pipe.execute()


def commandstats(client: redis.Redis) -> dict[str, dict[str, int]]:
    return client.info("commandstats")  # type: ignore[return-value]


async def test_idle_server_shows_no_ops_and_none_of_dbtops_commands(private: Server, private_db):
    fill(private_db)
    engine = RedisEngine(private.url(9), ConnectOptions())
    await engine.connect()
    try:
        first = await engine.snapshot()
        last = first
        # polls back to back, as often as dbtop can: a rate over at least a second of them
        while last.monotonic - first.monotonic < 1.0:
            await asyncio.sleep(0.05)
            last = await engine.snapshot()
    finally:
        await engine.close()
    rates = compute_rates(first, last)
    assert rates is not None
    assert not rates.reset  # the adjusted counters never go down
    ops = rates.server[last.server.throughput_counter]
    assert ops < 3, f"{ops:.1f} ops/s on a server nobody else talks to"
    for name in OWN:
        rate = rates.statements.get(name)
        assert rate is None or rate.calls_s < 1, (name, rate)
    assert not [e for e in last.slow_events if e.extra.get("client_name") == "dbtop"]


async def test_own_commands_stay_out_of_the_slow_log(private: Server, private_db):
    private_db.client_setname("tester")
    private_db.config_set("slowlog-log-slower-than", "0")
    private_db.slowlog_reset()
    engine = RedisEngine(private.url(9), ConnectOptions())
    await engine.connect()
    try:
        for _ in range(3):
            snapshot = await engine.snapshot()
    finally:
        await engine.close()
    others = {e.query for e in snapshot.slow_events if e.extra.get("client_name") != "tester"}
    assert not others, others  # every entry left is the test client's


async def test_one_poll_of_50k_keys_sends_few_commands(private: Server, private_db):
    fill(private_db)
    engine = RedisEngine(private.url(9), ConnectOptions())
    await engine.connect()
    try:
        await engine.snapshot()  # the first poll also reads CONFIG
        before = commandstats(private_db)
        await engine.snapshot()
        after = commandstats(private_db)
    finally:
        await engine.close()
    sent = sum(stat["calls"] - before.get(name, {}).get("calls", 0) for name, stat in after.items())
    sent -= 1  # the plain client's INFO before the poll is in ``after``
    assert 0 < sent <= COMMANDS_PER_POLL, sent
