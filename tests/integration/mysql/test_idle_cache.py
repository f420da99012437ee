"""Sleeping sessions on a server with many connections (issue 14): read in full every few
seconds, only the others in between; a kept sleeping row keeps its Session."""

from __future__ import annotations

import pytest

from dbtop.engines.mysql import sessions as my_sessions

from .conftest import SHARED_DB, SHARED_PORT, until

pytestmark = pytest.mark.timeout(60)


async def test_sleeping_sessions_are_reread_every_few_seconds(
    shared_url, engine_for, clients, monkeypatch
):
    # as on a server with a thousand connections: the cache is used from the first poll
    monkeypatch.setattr(my_sessions, "IDLE_CACHE_FROM", 0)
    monkeypatch.setattr(my_sessions, "IDLE_REFRESH_S", 4.0)
    engine = await engine_for(shared_url)
    old = await clients.open(SHARED_PORT, SHARED_DB)
    old_id = str(old.server_thread_id[0])
    first = await engine.snapshot()  # a full read
    assert first.session(old_id) is not None
    busy = await clients.open(SHARED_PORT, SHARED_DB)
    busy_id = str(busy.server_thread_id[0])
    clients.background(busy, "SELECT SLEEP(20)")
    new = await clients.open(SHARED_PORT, SHARED_DB)
    new_id = str(new.server_thread_id[0])

    snap = await until(engine, lambda s: s.session(busy_id) is not None, timeout=3.0)
    assert engine._cached.idle.partial_reads >= 1
    assert snap.session(old_id) is not None, "kept from the last full read"
    assert snap.session(new_id) is None, "not read yet"
    again = await engine.snapshot()
    if again.session(new_id) is None:  # still between full reads
        assert again.session(old_id) is snap.session(old_id), "an unchanged row, one Session"
    await until(engine, lambda s: s.session(new_id) is not None, timeout=10.0)
