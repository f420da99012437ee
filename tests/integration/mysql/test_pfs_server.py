"""The engine against a private MariaDB with performance_schema ON: digests and their rates,
sessions from performance_schema.threads, metadata-lock holders from metadata_locks, index
usage and unused indexes, and an account that may not read performance_schema."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from dbtop.analysis.lockgraph import build_lock_forest
from dbtop.analysis.rates import with_rates
from dbtop.model import Feature

from .conftest import PFS_DB, run, until

pytestmark = pytest.mark.timeout(60)


async def test_digests_appear_with_counts_and_rates(pfs_server, pfs_url, engine_for, clients):
    engine = await engine_for(pfs_url)
    assert engine.capabilities.has(Feature.STATEMENTS)
    app = await clients.open(pfs_server.port, PFS_DB)
    for i in range(5):
        await run(app, f"SELECT * FROM items WHERE v = 'v{i}'")
    first = await engine.snapshot()
    for i in range(7):
        await run(app, f"SELECT * FROM items WHERE v = 'v{i}'")
    # rates need two polls at least MIN_INTERVAL_S apart
    second = await until(
        engine, lambda s: with_rates(first, s).rates is not None, what="a snapshot with rates"
    )
    stmt = next(s for s in second.statements if "`items`" in s.query and "`v` = ?" in s.query)
    assert stmt.calls >= 12 and stmt.database == PFS_DB and stmt.total_ms > 0
    assert stmt.extra["rows_examined"] >= 12 * 10
    assert stmt.extra["no_index_used"] >= 12
    rated = with_rates(first, second)
    assert rated.rates is not None
    assert rated.rates.statements[stmt.id].calls_s > 0
    # rows examined vs sent, no index used: per second over the interval, as calls are
    assert rated.rates.statements[stmt.id].counters["rows_examined"] > 0
    assert rated.rates.statements[stmt.id].counters["no_index_used"] > 0
    assert "Questions" in rated.rates.server


async def test_sessions_come_from_threads_with_program_names(pfs_url, engine_for):
    engine = await engine_for(pfs_url)
    snap = await engine.snapshot()
    assert snap.extra["session_source"] == "performance_schema.threads"
    me = [s for s in snap.sessions if s.is_self]
    assert me and me[0].application == "dbtop" and me[0].extra.get("thread_id")


async def test_metadata_lock_chain_with_holder(pfs_server, pfs_url, engine_for, clients):
    engine = await engine_for(pfs_url)
    assert engine.capabilities.extra["metadata_lock_source"] == "performance_schema.metadata_locks"
    holder = await clients.open(pfs_server.port, PFS_DB)
    alter = await clients.open(pfs_server.port, PFS_DB)
    reader = await clients.open(pfs_server.port, PFS_DB)
    await run(holder, "BEGIN")
    await run(holder, "SELECT * FROM mdl_t")
    await run(alter, "SET SESSION lock_wait_timeout = 30")
    await run(reader, "SET SESSION lock_wait_timeout = 30")
    altering = clients.background(alter, "ALTER TABLE mdl_t ADD COLUMN extra_col INT")
    hid, aid, rid = (str(c.thread_id()) for c in (holder, alter, reader))
    await until(engine, lambda s: (x := s.session(aid)) is not None and x.waiting_on_lock)
    reading = clients.background(reader, "SELECT * FROM mdl_t")
    snap = await until(engine, lambda s: {e.waiter for e in s.lock_waits} >= {aid, rid})
    edges = {(e.waiter, e.blocker) for e in snap.lock_waits}
    assert (aid, hid) in edges, edges
    assert (rid, aid) in edges, edges
    forest = build_lock_forest(snap.lock_waits)
    assert [r.session_id for r in forest.roots] == [hid]
    edge = next(e for e in snap.lock_waits if e.waiter == aid)
    assert edge.lock_type == "metadata" and edge.object == f"{PFS_DB}.mdl_t"
    assert edge.held_mode == "SHARED_READ"
    assert snap.session(aid).blocked_by == (hid,)
    await run(holder, "ROLLBACK")
    await asyncio.wait_for(altering, 20)
    await asyncio.wait_for(reading, 20)
    await run(alter, "ALTER TABLE mdl_t DROP COLUMN extra_col")


async def test_unused_and_used_indexes(pfs_server, pfs_url, engine_for, clients):
    app = await clients.open(pfs_server.port, PFS_DB)
    await run(app, "SELECT * FROM items WHERE k = 2")
    engine = await engine_for(pfs_url)
    snap = await engine.snapshot()
    assert snap.capabilities.has(Feature.INDEXES)
    by_name = {(i.table, i.name): i for i in snap.indexes}
    used = by_name[("items", "k_idx")]
    assert used.scans and used.scans > 0 and not used.unused
    never = by_name[("dupes", "d_idx")]
    assert never.unused and never.extra["usage_source"] == "performance_schema"
    assert not by_name[("dupes", "PRIMARY")].unused
    kinds = {(f.kind, f.object) for f in snap.findings}
    assert ("duplicate_index", f"{PFS_DB}.dupes.a_only") in kinds
    items = next(t for t in snap.tables if t.table == "items")
    assert items.extra["rows_read"] is not None


async def test_account_without_performance_schema_access(pfs_server, engine_for):
    name = f"dbtop_lim_{uuid.uuid4().hex[:8]}"
    admin = pfs_server.connect()
    with admin.cursor() as cur:
        cur.execute(f"CREATE USER '{name}'@'%' IDENTIFIED BY 'pw-{name}'")
        cur.execute(f"GRANT SELECT ON {PFS_DB}.* TO '{name}'@'%'")
    try:
        engine = await engine_for(pfs_server.url(PFS_DB, name, f"pw-{name}"))
        snap = await engine.snapshot()
        hints = [n.hint or "" for n in snap.capabilities.notices]
        assert f"GRANT SELECT ON performance_schema.* TO '{name}'@'%'" in hints
        assert f"GRANT PROCESS ON *.* TO '{name}'@'%'" in hints
        assert not snap.capabilities.has(Feature.STATEMENTS) and not snap.statements
        assert not snap.capabilities.has(Feature.LOCKS)
        assert snap.sessions and all(s.user == name for s in snap.sessions)
        assert snap.indexes, "index definitions need no extra privilege"
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP USER '{name}'@'%'")
        admin.close()
