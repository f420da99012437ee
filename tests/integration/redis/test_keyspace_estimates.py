"""Sampled keyspace estimates on a key set that does not change: each carries its 95 %
margin, the margin covers the truth, a single key is never scaled up, memory and count
agree, and after one SCAN pass the figures are exact."""

from __future__ import annotations

from collections import defaultdict

from dbtop.engines.base import ConnectOptions
from dbtop.engines.redis import RedisEngine, SampleBudget

from .conftest import Server

#: pattern -> key names (the issue's case: one big list, 184 session keys, …)
PATTERNS = {
    "nc:biglist": ["nc:biglist"],
    "nc:session:*": [f"nc:session:{i:016x}" for i in range(184)],
    "nc:user:*:profile": [f"nc:user:{i}:profile" for i in range(1500)],
    "nc:cache:page:*": [f"nc:cache:page:{i}" for i in range(300)],
}


def fill(client) -> dict[str, tuple[int, int]]:
    """The keys, and the truth per pattern: (keys, bytes by MEMORY USAGE)."""
    pipe = client.pipeline(transaction=False)
    pipe.rpush("nc:biglist", *[f"item-{i}" for i in range(2000)])
    for name in PATTERNS["nc:session:*"]:
        pipe.hset(name, mapping={"user": name, "data": "s" * 200})
    for name in PATTERNS["nc:user:*:profile"]:
        pipe.set(name, "p" * 40)
    for name in PATTERNS["nc:cache:page:*"]:
        pipe.set(name, "c" * 900)
    pipe.execute()
    truth = {}
    for pattern, names in PATTERNS.items():
        pipe = client.pipeline(transaction=False)
        for name in names:
            pipe.memory_usage(name)
        truth[pattern] = (len(names), sum(pipe.execute()))
    return truth


async def test_estimates_state_their_error_cover_the_truth_and_converge(
    private: Server, private_db
):
    truth = fill(private_db)
    engine = RedisEngine(private.url(9), ConnectOptions())
    # ~1,985 keys at 120 a refresh: one SCAN pass takes about 17 refreshes
    engine.sample_budget = SampleBudget(max_keys=120, max_ms=200.0, scan_count=60)
    await engine.connect()
    checks = covered = 0
    history: dict[str, list[int]] = defaultdict(list)
    try:
        for _ in range(60):
            snapshot = await engine.snapshot()
            rows = {p.pattern: p for p in snapshot.keyspace if p.database == "db9"}
            for pattern, row in rows.items():
                assert pattern in truth, sorted(rows)
                keys, memory = truth[pattern]
                margin = row.extra["keys_margin"]
                assert row.extra["confidence"] == 0.95
                assert row.extra["sample_keys"] > 0
                history[pattern].append(row.estimated_keys)
                if pattern == "nc:biglist":
                    # one key seen by name: 1 and its own size, never scaled by the sample
                    assert row.estimated_keys == 1 and margin == 0
                    assert row.memory_bytes == memory
                    continue
                checks += 2
                covered += abs(row.estimated_keys - keys) <= margin
                covered += abs(row.memory_bytes - memory) <= row.extra["memory_margin_bytes"]
                # the memory of the keys shown is consistent with the keys measured
                mean = memory / keys
                assert 0.5 * mean * row.estimated_keys <= row.memory_bytes
            if len(rows) == 4 and all(r.extra["exact"] for r in rows.values()):
                break
    finally:
        await engine.close()
    assert len(rows) == 4 and all(r.extra["exact"] for r in rows.values()), {
        p: (r.estimated_keys, r.extra["keys_margin"]) for p, r in rows.items()
    }
    for pattern, row in rows.items():
        assert (row.estimated_keys, row.memory_bytes) == truth[pattern], pattern
    assert checks >= 20
    assert covered >= 0.9 * checks, (covered, checks)
    assert set(history["nc:biglist"]) == {1}
