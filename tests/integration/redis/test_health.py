"""Health against a private redis-server started here with a small maxmemory and an LRU
policy (never CONFIG SET on the machine's Redis): filled past its limit, it evicts, and
the snapshot says memory is near the limit, with the evictions and their rate."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dbtop.engines.base import ConnectOptions
from dbtop.engines.redis import RedisEngine
from dbtop.model import Severity

from .conftest import PREFIX, Server, start_server


@pytest.fixture
def small(tmp_path: Path) -> Iterator[Server]:
    server = start_server(
        tmp_path / "small", args=("--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru")
    )
    try:
        yield server
    finally:
        server.stop()


async def test_memory_near_limit_with_evictions(small: Server) -> None:
    client = small.client(0)
    engine = RedisEngine(small.url(0), ConnectOptions())
    await engine.connect()
    try:
        await engine.snapshot()  # the eviction rate counts from here
        value = b"x" * 1000
        pipe = client.pipeline(transaction=False)
        for n in range(8000):  # 8 MB into 4 MB
            pipe.set(f"{PREFIX}fill:{n}", value)
        pipe.execute()
        assert int(client.info("stats")["evicted_keys"]) > 0
        snapshot = await engine.snapshot()
    finally:
        await engine.close()
        client.close()
    found = {(f.kind, f.object): f for f in snapshot.findings}
    near = found[("memory_near_limit", "server")]
    assert near.severity in (Severity.WARNING, Severity.CRITICAL)
    assert near.extra["policy"] == "allkeys-lru"
    assert near.extra["evicted_keys"] > 0
    assert near.extra["evicted_per_s"] and near.extra["evicted_per_s"] > 0
    assert ("evictions", "server") in found
