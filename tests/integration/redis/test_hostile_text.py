"""Issue 11, item 6: a key whose bytes are not UTF-8 cannot blind the Redis poll (client
names cannot hold such bytes: Redis refuses any outside '!'..'~')."""

from __future__ import annotations

import os

import pytest
import redis.asyncio as redis_async

from dbtop.engines.base import ConnectOptions
from dbtop.engines.redis import RedisEngine

pytestmark = pytest.mark.timeout(60)


async def test_a_key_with_invalid_utf8_bytes_does_not_break_the_snapshot():
    client = redis_async.Redis(host="127.0.0.1", port=6379, db=0)
    key = f"dbtop:it:ff:{os.getpid()}:".encode() + b"\xff\xfe"
    try:
        await client.ping()
    except OSError as exc:
        pytest.skip(f"no Redis on 127.0.0.1:6379: {exc}")
    except redis_async.ConnectionError as exc:
        pytest.skip(f"no Redis on 127.0.0.1:6379: {exc}")
    await client.set(key, b"v\xff", ex=60)
    engine = RedisEngine("redis://127.0.0.1:6379/0", ConnectOptions())
    await engine.connect()
    try:
        snap = await engine.snapshot()
        assert snap.sessions
    finally:
        await engine.close()
        await client.delete(key)
        await client.aclose()
