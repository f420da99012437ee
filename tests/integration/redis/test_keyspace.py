"""Key sampling over 100,000 keys stays within its budget and finds the patterns; suggest."""

from __future__ import annotations

import pytest

from dbtop.engines.base import ConnectOptions
from dbtop.engines.redis import RedisEngine, SampleBudget

from .conftest import PREFIX, Server

#: pattern -> (how many keys, with a TTL?)
POPULATION = {
    "user:*:profile": (50_000, False),
    "session:*": (30_000, True),
    "cache:page:*": (15_000, True),
    "queue:*:jobs": (5_000, False),
}


def fill(client, total_keys: int = 100_000) -> None:
    pipe = client.pipeline(transaction=False)
    for i in range(POPULATION["user:*:profile"][0]):
        pipe.set(f"user:{i}:profile", "x" * 20)
    for i in range(POPULATION["session:*"][0]):
        pipe.set(f"session:{i:032x}", "s", ex=3600)
    for i in range(POPULATION["cache:page:*"][0]):
        pipe.set(f"cache:page:{i}", "c" * 50, ex=600)
    for i in range(POPULATION["queue:*:jobs"][0]):
        pipe.set(f"queue:{i}:jobs", "j")
    pipe.execute()
    assert client.dbsize() == total_keys


@pytest.fixture
def filled(private: Server, private_db):
    fill(private_db)
    return private_db


async def test_sampling_100k_keys_within_budget_finds_the_patterns(private: Server, filled):
    budget = SampleBudget(max_keys=500, max_ms=50.0, scan_count=100, reservoir=4000)
    engine = RedisEngine(private.url(9), ConnectOptions())
    engine.sample_budget = budget
    await engine.connect()
    keys_calls_before = filled.info("commandstats").get("cmdstat_keys", {}).get("calls", 0)
    try:
        for _ in range(8):
            snapshot = await engine.snapshot()
            sampling = snapshot.extra["sampling"][f"127.0.0.1:{private.port}"]
            assert sampling["keys"] <= budget.max_keys  # the count budget, every refresh
            assert sampling["scans"] >= 1
    finally:
        await engine.close()
    keys_calls_after = filled.info("commandstats").get("cmdstat_keys", {}).get("calls", 0)
    assert keys_calls_after == keys_calls_before  # never KEYS

    rows = {p.pattern: p for p in snapshot.keyspace if p.database == "db9"}
    for pattern, (count, with_ttl) in POPULATION.items():
        assert pattern in rows, sorted(rows)
        row = rows[pattern]
        assert row.type == "string"
        assert 0.6 * count <= row.estimated_keys <= 1.4 * count, (pattern, row.estimated_keys)
        assert row.no_ttl_share == (0.0 if with_ttl else 1.0)
        assert row.memory_bytes and row.biggest_key and row.biggest_key_bytes
    assert sum(p.sampled_keys for p in rows.values()) == sampling["reservoir"]
    table = next(t for t in snapshot.tables if t.table == "db9")
    assert table.live_rows == 100_000 and table.extra["expires"] == 45_000


async def test_suggest_finds_big_keys_no_ttl_and_o_n_commands(private: Server, private_db):
    client = private_db
    client.hset(f"{PREFIX}big", mapping={f"field:{i}": i for i in range(20_000)})
    pipe = client.pipeline(transaction=False)
    for i in range(1500):
        pipe.set(f"cache:item:{i}", "v")
    pipe.execute()
    client.config_set("slowlog-log-slower-than", "0")
    client.slowlog_reset()
    client.keys("cache:item:1*")
    client.hgetall(f"{PREFIX}big")
    client.config_set("slowlog-log-slower-than", "1000000")

    engine = RedisEngine(private.url(9), ConnectOptions())
    await engine.connect()
    try:
        advice = await engine.suggest()
    finally:
        await engine.close()
    found = {(f.kind, f.object): f for f in advice.findings}
    big = found[("big_key", f"{PREFIX}big")]
    assert "20,000 fields" in big.message and f"UNLINK {PREFIX}big" in big.statement
    assert ("no_ttl", "cache:item:*") in found
    assert "EX" in found[("no_ttl", "cache:item:*")].statement
    assert ("blocking_command", "KEYS") in found
    on = found[("on_command", f"HGETALL {PREFIX}big")]
    assert "HSCAN" in on.statement
    assert advice.extra["analyzed"] >= 2
