"""A Redis kill reaches only the client the user confirmed (issue 11, item 2): the server
run (run_id) and the client's creation time on the server's clock must be those shown."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
import redis
import redis.asyncio as aioredis

from dbtop.errors import RefusedError
from dbtop.model import KillMode, Session

from .test_engine import connected, wait_for


async def _seen(engine, client_id: int, state: str | None = None) -> Session:
    snapshot = await wait_for(
        lambda s: any(
            x.id == str(client_id) and (state is None or x.state == state) for x in s.sessions
        ),
        engine,
    )
    session = snapshot.session(str(client_id))
    assert session is not None
    return session


async def test_creation_time_is_on_the_server_clock_and_run_id_is_kept(shared_url, shared):
    victim = redis.Redis.from_url(shared_url, client_name="dbtop-test-identity")
    try:
        victim_id = victim.client_id()
        async with connected(shared_url) as engine:
            session = await _seen(engine, victim_id)
        info = shared.info("server")
        assert session.extra["run_id"] == info["run_id"]
        line = shared.client_list(client_id=[victim_id])[0]
        server_now = datetime.fromtimestamp(int(info["server_time_usec"]) / 1e6, UTC)
        created = server_now - timedelta(seconds=int(line["age"]))
        assert session.backend_start is not None
        assert abs((session.backend_start - created).total_seconds()) < 3
    finally:
        victim.close()


@pytest.mark.parametrize("mode", [KillMode.CANCEL, KillMode.TERMINATE])
async def test_a_different_creation_time_or_run_id_is_refused(shared_url, mode):
    waiter = aioredis.Redis.from_url(shared_url, client_name="dbtop-test-identity-waiter")
    try:
        waiter_id = await waiter.client_id()
        task = asyncio.create_task(waiter.blpop(["dbtop-test:identity-queue"], timeout=0))
        async with connected(shared_url) as engine:
            seen = await _seen(engine, waiter_id, "blocked")
            assert seen.backend_start is not None
            older = dataclasses.replace(seen, backend_start=seen.backend_start - timedelta(hours=1))
            with pytest.raises(RefusedError) as refused:
                await engine.kill(str(waiter_id), mode, expected=older)
            text = str(refused.value)
            assert f"session {waiter_id} is no longer the one you confirmed" in text
            assert "nothing was sent" in text and "\n" not in text

            other_run = dataclasses.replace(seen, extra={**seen.extra, "run_id": "0" * 40})
            with pytest.raises(RefusedError, match="restarted"):
                await engine.kill(str(waiter_id), mode, expected=other_run)

            elsewhere = dataclasses.replace(seen, client="10.9.9.9:1")
            with pytest.raises(RefusedError, match="address"):
                await engine.kill(str(waiter_id), mode, expected=elsewhere)
            assert not task.done()  # nothing reached it

            result = await engine.kill(str(waiter_id), mode, expected=seen)
            assert result.ok, result.message
        if mode is KillMode.CANCEL:
            assert await asyncio.wait_for(task, 5) is None  # BLPOP returned as on timeout
        else:
            with pytest.raises(redis.exceptions.ConnectionError):
                await asyncio.wait_for(task, 5)
    finally:
        await waiter.aclose()
