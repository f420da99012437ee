"""The engine against a private MariaDB with performance_schema OFF but the slow log in a
table, user statistics on and the metadata_lock_info plugin loaded."""

from __future__ import annotations

import asyncio

import pytest

from dbtop.analysis.lockgraph import build_lock_forest
from dbtop.model import Feature

from .conftest import SLOW_DB, run, until

pytestmark = pytest.mark.timeout(60)


async def test_slow_log_table_gives_slow_events(slowlog_server, slow_url, engine_for, clients):
    app = await clients.open(slowlog_server.port, SLOW_DB)
    await run(app, "SELECT v, 'slow-marker' FROM items WHERE k = 4")
    engine = await engine_for(slow_url)
    snap = await engine.snapshot()
    assert not snap.capabilities.has(Feature.STATEMENTS) and not snap.statements
    assert snap.capabilities.extra["slow_log_table"]
    messages = " ".join(n.message for n in snap.capabilities.notices)
    assert "slow log table is shown instead" in messages
    event = next(e for e in snap.slow_events if "slow-marker" in e.query)
    assert event.user == "root" and event.database == SLOW_DB
    assert event.extra["rows_examined"] >= 2 and event.extra["rows_sent"] == 2
    assert event.at is not None and event.duration_ms >= 0
    own = set(snap.extra["own_sessions"])
    assert not any(e.extra["thread_id"] in own for e in snap.slow_events)


async def test_userstat_gives_index_usage(slowlog_server, slow_url, engine_for, clients):
    app = await clients.open(slowlog_server.port, SLOW_DB)
    await run(app, "SELECT * FROM items WHERE k = 3")
    engine = await engine_for(slow_url)
    snap = await engine.snapshot()
    assert snap.capabilities.has(Feature.INDEXES) and snap.extra["index_usage_source"] == "userstat"
    by_name = {(i.table, i.name): i for i in snap.indexes}
    assert by_name[("items", "k_idx")].tuples_read > 0
    assert by_name[("dupes", "d_again")].unused
    assert any(
        f.kind == "unused_index" and f.object.endswith("dupes.d_again") for f in snap.findings
    )


async def test_metadata_lock_holder_from_the_plugin(slowlog_server, slow_url, engine_for, clients):
    engine = await engine_for(slow_url)
    assert (
        engine.capabilities.extra["metadata_lock_source"] == "information_schema.METADATA_LOCK_INFO"
    )
    holder = await clients.open(slowlog_server.port, SLOW_DB)
    alter = await clients.open(slowlog_server.port, SLOW_DB)
    await run(holder, "BEGIN")
    await run(holder, "SELECT * FROM mdl_t")
    await run(alter, "SET SESSION lock_wait_timeout = 30")
    altering = clients.background(alter, "ALTER TABLE mdl_t ADD COLUMN extra_col INT")
    hid, aid = str(holder.thread_id()), str(alter.thread_id())
    snap = await until(engine, lambda s: any(e.waiter == aid for e in s.lock_waits))
    edge = next(e for e in snap.lock_waits if e.waiter == aid)
    assert edge.blocker == hid and edge.lock_type == "metadata"
    assert edge.mode == "EXCLUSIVE" and edge.held_mode == "SHARED_READ"
    assert edge.extra["inferred"] is True
    assert [r.session_id for r in build_lock_forest(snap.lock_waits).roots] == [hid]
    await run(holder, "ROLLBACK")
    await asyncio.wait_for(altering, 20)
    await run(alter, "ALTER TABLE mdl_t DROP COLUMN extra_col")
