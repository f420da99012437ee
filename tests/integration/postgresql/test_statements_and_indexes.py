"""pg_stat_statements and index statistics against the real servers."""

from __future__ import annotations

import asyncpg
import pytest

from dbtop.engines.base import ConnectOptions
from dbtop.engines.postgresql import PostgresEngine
from dbtop.model import Feature

from .conftest import eventually

pytestmark = pytest.mark.timeout(90)


async def test_statements_show_their_call_counts(engine, clients):
    conn = await clients.connect("dbtop-test-stmts")
    for i in range(25):
        await conn.fetchval("SELECT count(*) + $1 AS dbtop_it_marker FROM pg_class", i)

    async def counted():
        snap = await engine.snapshot()
        hits = [s for s in snap.statements if "dbtop_it_marker" in s.query]
        return hits if hits and hits[0].calls >= 25 else None

    (stmt,) = await eventually(counted)
    assert stmt.total_ms > 0 and stmt.mean_ms is not None
    assert stmt.rows >= 25
    assert "$1" in stmt.query
    assert stmt.database == "dbtop_pg_it"
    assert stmt.extra["queryid"] is not None
    assert stmt.counters["shared_blks_hit"] > 0
    assert engine.capabilities.has(Feature.STATEMENTS)


async def test_dbtops_own_monitor_queries_are_not_listed(engine):
    for _ in range(3):
        snap = await engine.snapshot()
    # recognised by their text, whatever the server keeps of the tag
    own = [s.query for s in snap.statements if "pg_blocking_pids(a.pid)" in s.query]
    assert own == []
    assert snap.statements, "other statements are"


async def test_missing_extension_is_a_clear_capability_notice(pg_url):
    admin = await asyncpg.connect(pg_url)
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = 'dbtop_it_bare'")
        if not exists:
            await admin.execute("CREATE DATABASE dbtop_it_bare")
    finally:
        await admin.close()
    url = pg_url.replace("/dbtop_pg_it", "/dbtop_it_bare")
    engine = PostgresEngine(url, ConnectOptions())
    await engine.connect()
    try:
        assert not engine.capabilities.has(Feature.STATEMENTS)
        notices = [n for n in engine.capabilities.notices if n.feature == "statements"]
        assert notices and "pg_stat_statements" in notices[0].message
        assert "CREATE EXTENSION" in (notices[0].hint or "")
        snap = await engine.snapshot()
        assert snap.statements == ()
        assert snap.sessions
    finally:
        await engine.close()


async def test_unused_duplicate_redundant_and_invalid_indexes_are_flagged(engine, clients):
    conn = await clients.connect("dbtop-test-idx")
    await conn.execute("DROP TABLE IF EXISTS dbtop_it_idx")
    await conn.execute("CREATE TABLE dbtop_it_idx (id int PRIMARY KEY, a int, b int, c text)")
    await conn.execute(
        "INSERT INTO dbtop_it_idx SELECT g, g % 7, g % 11, 'x' FROM generate_series(1, 2000) g"
    )
    await conn.execute("CREATE INDEX dbtop_it_idx_a ON dbtop_it_idx (a)")
    await conn.execute("CREATE INDEX dbtop_it_idx_a_b ON dbtop_it_idx (a, b)")
    await conn.execute("CREATE INDEX dbtop_it_idx_a_b_again ON dbtop_it_idx (a, b)")
    await conn.execute("CREATE INDEX dbtop_it_idx_c ON dbtop_it_idx (c)")
    with pytest.raises(asyncpg.UniqueViolationError):
        # fails half way and leaves an INVALID index behind, as in production
        await conn.execute("CREATE UNIQUE INDEX CONCURRENTLY dbtop_it_idx_bad ON dbtop_it_idx (a)")
    await conn.execute("ANALYZE dbtop_it_idx")

    async def listed():
        snap = await engine.snapshot()
        found = {i.name: i for i in snap.indexes if i.table == "dbtop_it_idx"}
        return (snap, found) if len(found) >= 6 else None

    snap, found = await eventually(listed)
    assert found["dbtop_it_idx_bad"].valid is False
    assert found["dbtop_it_idx_a_b_again"].duplicate_of == "dbtop_it_idx_a_b"
    assert found["dbtop_it_idx_a_b_again"].extra["redundancy"] == "duplicate"
    assert found["dbtop_it_idx_a"].duplicate_of == "dbtop_it_idx_a_b"
    assert found["dbtop_it_idx_a"].extra["redundancy"] == "redundant"
    assert found["dbtop_it_idx_c"].unused
    assert found["dbtop_it_idx_pkey"].is_primary and not found["dbtop_it_idx_pkey"].unused
    assert found["dbtop_it_idx_pkey"].constraint == "dbtop_it_idx_pkey"
    assert found["dbtop_it_idx_a_b"].columns == ("a", "b")
    assert found["dbtop_it_idx_c"].size_bytes and found["dbtop_it_idx_c"].size_bytes > 0
    kinds = {(f.kind, f.object) for f in snap.findings}
    assert ("invalid_index", "public.dbtop_it_idx_bad") in kinds
    assert ("duplicate_index", "public.dbtop_it_idx_a_b_again") in kinds
    assert ("redundant_index", "public.dbtop_it_idx_a") in kinds
    assert ("unused_index", "public.dbtop_it_idx_c") in kinds
    table = next(t for t in snap.tables if t.table == "dbtop_it_idx")
    assert table.live_rows == 2000


async def test_seq_scan_heavy_table_is_reported(engine, clients):
    conn = await clients.connect("dbtop-test-seq")
    await conn.execute("DROP TABLE IF EXISTS dbtop_it_seq")
    await conn.execute(
        "CREATE TABLE dbtop_it_seq AS SELECT g AS id FROM generate_series(1, 20000) g"
    )
    await conn.execute("ANALYZE dbtop_it_seq")
    for _ in range(12):
        await conn.fetchval("SELECT count(*) FROM dbtop_it_seq WHERE id = 5")
    # a backend that flushed its statistics less than a second ago waits 10 s for the next
    # flush once idle (PGSTAT_IDLE_INTERVAL): ask for it at once instead
    await conn.execute("SELECT pg_stat_force_next_flush()")

    async def flagged():
        snap = await engine.snapshot()
        return [
            f for f in snap.findings if f.kind == "seq_scan_table" and "dbtop_it_seq" in f.object
        ]

    assert await eventually(flagged)


async def test_dbtops_unmarked_action_statements_are_not_listed(engine, clients):
    """What explain and kill send without the mark (issue 12: the demo's Slow queries listed
    BEGIN READ ONLY, DO $dbtop_do$ and pg_cancel_backend($1)), run here under dbtop's role."""
    conn = await clients.connect("dbtop-test-own")
    # In a long test session pg_stat_statements is full (pg_stat_statements.max) and a few
    # cheap calls are the first entries it evicts: the statistics start empty here (the
    # tests' own private server).
    await conn.execute("SELECT pg_stat_statements_reset()")
    for i in range(3):
        async with conn.transaction(readonly=True):
            await conn.fetchval("SELECT 1 + $1 AS dbtop_own_marker", i)
        await conn.fetchval("SELECT pg_cancel_backend($1)", 0)
        await conn.execute("DO $dbtop_do$ BEGIN PERFORM 1; END $dbtop_do$")

    async def listed():
        snap = await engine.snapshot()
        return snap if any("dbtop_own_marker" in s.query for s in snap.statements) else None

    snap = await eventually(listed)
    role = await conn.fetchval("SELECT current_user")
    # other tests send such statements under other roles: those are an application's
    texts = [" ".join(s.query.split()).lower() for s in snap.statements if s.user == role]
    own = [
        t
        for t in texts
        if t.startswith(("begin", "do $dbtop_do$")) or t == "select pg_cancel_backend($1)"
    ]
    assert own == []
