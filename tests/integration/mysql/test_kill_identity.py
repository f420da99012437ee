"""A MySQL / MariaDB kill reaches only the thread the user confirmed (issue 11, item 2):
the same account and client address (host:port), and for a cancel the same statement."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import pymysql
import pytest

from dbtop.errors import RefusedError
from dbtop.model import KillMode, Session

from .conftest import SHARED_DB, SHARED_HOST, SHARED_PORT, until

pytestmark = pytest.mark.timeout(60)


async def _sleeping(engine, clients, app_id: str) -> Session:
    snap = await until(
        engine,
        lambda s: any(x.id == app_id and x.query and "SLEEP" in x.query for x in s.sessions),
        what=f"session {app_id} running SLEEP",
    )
    session = snap.session(app_id)
    assert session is not None
    return session


@pytest.mark.parametrize("mode", [KillMode.CANCEL, KillMode.TERMINATE])
async def test_another_client_address_or_account_is_refused(shared_url, engine_for, clients, mode):
    engine = await engine_for(shared_url)
    app = await clients.open(SHARED_PORT, SHARED_DB, SHARED_HOST)
    app_id = str(app.thread_id())
    task = clients.background(app, "SELECT SLEEP(30)")
    seen = await _sleeping(engine, clients, app_id)
    assert seen.client and ":" in seen.client  # host with the client's port
    elsewhere = dataclasses.replace(seen, client="10.9.9.9:4711")
    with pytest.raises(RefusedError) as refused:
        await engine.kill(app_id, mode, expected=elsewhere)
    text = str(refused.value)
    assert f"session {app_id} is no longer the one you confirmed" in text
    assert "connects from" in text and "nothing was sent" in text and "\n" not in text
    other_user = dataclasses.replace(seen, user="somebody_else")
    with pytest.raises(RefusedError, match="its user is"):
        await engine.kill(app_id, mode, expected=other_user)
    assert not task.done()

    result = await engine.kill(app_id, mode, expected=seen)
    assert result.ok, result.message
    # cancelled: "Query execution was interrupted"; terminated: the connection is lost
    with pytest.raises(pymysql.err.OperationalError):
        await asyncio.wait_for(task, 10)


async def test_a_cancel_after_a_new_statement_started_is_refused(shared_url, engine_for, clients):
    engine = await engine_for(shared_url)
    app = await clients.open(SHARED_PORT, SHARED_DB, SHARED_HOST)
    app_id = str(app.thread_id())
    task = clients.background(app, "SELECT SLEEP(30)")
    seen = await _sleeping(engine, clients, app_id)
    assert seen.query_start is not None
    earlier = dataclasses.replace(
        seen,
        query_start=seen.query_start - timedelta(minutes=1),
        extra={**seen.extra, "query_id": int(seen.extra.get("query_id", 1)) - 1},
    )
    with pytest.raises(RefusedError, match="started another statement") as refused:
        await engine.kill(app_id, KillMode.CANCEL, expected=earlier)
    assert "nothing was sent" in str(refused.value)
    assert not task.done()
    await engine.kill(app_id, KillMode.TERMINATE, expected=earlier)  # the session is the same
