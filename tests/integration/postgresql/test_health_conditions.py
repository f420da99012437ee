"""The health checks test_health.py does not reach, each against a condition created on a
PostgreSQL 15 of this module's own (tests/servers/postgres.py): small max_connections and
max_wal_size at its minimum, so that each condition is cheap to create. Each test first
asserts the finding is absent, then creates the condition and waits for it. (The horizon,
wraparound, replica and transaction checks: test_health_horizon.py.)

One threshold too costly to reach here (1 GB of temporary files) is lowered for its test:
the read is what these tests check, the threshold is unit-tested.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import asyncpg
import pytest

import dbtop.analysis.health.postgresql as pg_health
from dbtop.model import Finding, Severity, Snapshot
from tests.integration.postgresql.conftest import fresh_snapshot, own_server
from tests.servers import postgres
from tests.waiting import wait_until

MAX_CONNECTIONS = 12
SETTINGS = {"max_wal_size": "'32MB'", "min_wal_size": "'32MB'"}


@pytest.fixture(scope="module")
def server() -> Iterator[postgres.PrivatePostgres]:
    yield from own_server(MAX_CONNECTIONS, SETTINGS)


def found(snap: Snapshot, kind: str, obj: str) -> Finding | None:
    return next((f for f in snap.findings if f.kind == kind and f.object == obj), None)


async def in_own_session(url: str, sql: str) -> None:
    """``sql`` on a connection closed right after: a backend that ends publishes its
    statistics then, where an idle one may wait 10 s (PGSTAT_IDLE_INTERVAL)."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def wait_for(url: str, kind: str, obj: str, what: str, timeout: float = 20) -> Finding:
    async def check() -> Finding | None:
        return found(await fresh_snapshot(url), kind, obj)

    return await wait_until(check, timeout=timeout, what=what)


async def test_checkpoint_pressure(server: postgres.PrivatePostgres, admin: asyncpg.Connection):
    await admin.execute("SELECT pg_stat_reset_shared('bgwriter')")
    assert found(await fresh_snapshot(server.url()), "checkpoint_pressure", "checkpoints") is None
    for _ in range(pg_health.CHECKPOINT_REQ_MIN):
        await admin.execute("CHECKPOINT")
    finding = await wait_for(server.url(), "checkpoint_pressure", "checkpoints", "requested")
    assert finding.severity is Severity.WARNING
    assert finding.extra["requested"] >= pg_health.CHECKPOINT_REQ_MIN
    assert "max_wal_size (32 MB)" in finding.message
    assert finding.statement == "ALTER SYSTEM SET max_wal_size = '64MB'; SELECT pg_reload_conf();"


async def _fill_wal(admin: asyncpg.Connection) -> None:
    """One more WAL segment (16 MB) behind the current position."""
    await admin.execute("INSERT INTO h_wal VALUES (1); SELECT pg_switch_wal()")


async def test_replication_slot_inactive_and_wal(
    server: postgres.PrivatePostgres, admin: asyncpg.Connection
):
    url = server.url()
    await admin.execute("CREATE TABLE h_wal (v int)")
    assert found(await fresh_snapshot(url), "replication_slot_inactive", "h_phys") is None
    await admin.execute("SELECT pg_create_physical_replication_slot('h_phys', true)")
    drop = "SELECT pg_drop_replication_slot('h_phys');"
    try:
        first = await fresh_snapshot(url)
        inactive = found(first, "replication_slot_inactive", "h_phys")
        assert inactive is not None
        assert inactive.severity is Severity.WARNING
        assert inactive.statement == drop
        assert inactive.extra["wal_status"] == "reserved"
        assert found(first, "replication_slot_wal", "h_phys") is None  # < max_wal_size yet

        for _ in range(3):  # 48 MB: past max_wal_size (32 MB)
            await _fill_wal(admin)
        wal = await wait_for(url, "replication_slot_wal", "h_phys", "WAL past max_wal_size")
        assert wal.severity is Severity.WARNING
        assert wal.extra["retained_bytes"] > 32 * 1024**2
        assert "more than max_wal_size (32.0 MB)" in wal.message
        assert wal.statement == drop

        # Once max_slot_wal_keep_size lets a checkpoint remove the WAL the slot needs, the
        # slot is lost: critical on both counts.
        await admin.execute("ALTER SYSTEM SET max_slot_wal_keep_size = '16MB'")
        await admin.execute("SELECT pg_reload_conf()")

        async def lost() -> Snapshot | None:
            await _fill_wal(admin)
            await admin.execute("CHECKPOINT")
            snap = await fresh_snapshot(url)
            slot = found(snap, "replication_slot_inactive", "h_phys")
            return snap if slot and slot.extra["wal_status"] == "lost" else None

        snap = await wait_until(lost, timeout=20, what="the slot's WAL removed")
        gone = found(snap, "replication_slot_inactive", "h_phys")
        assert gone is not None and gone.severity is Severity.CRITICAL
        assert "(wal_status lost)" in gone.message
        wal = found(snap, "replication_slot_wal", "h_phys")
        assert wal is not None and wal.severity is Severity.CRITICAL
    finally:
        await admin.execute("ALTER SYSTEM RESET max_slot_wal_keep_size")
        await admin.execute("SELECT pg_reload_conf()")
        await admin.execute("SELECT pg_drop_replication_slot('h_phys'); DROP TABLE h_wal")


async def test_vacuum_overdue_and_bloat(
    server: postgres.PrivatePostgres, admin: asyncpg.Connection
):
    """140,000 rows of 500 bytes (73 MB, unlogged: no WAL to write), 90 % of them deleted
    and never vacuumed."""
    url = server.url()
    await admin.execute(
        "CREATE UNLOGGED TABLE h_bloat (id int, pad text) WITH (autovacuum_enabled = false);"
        "INSERT INTO h_bloat SELECT g, repeat('x', 500) FROM generate_series(1, 140000) g;"
        "ANALYZE h_bloat"
    )
    try:
        before = await fresh_snapshot(url)
        assert found(before, "vacuum_overdue", "public.h_bloat") is None
        assert found(before, "bloat_estimate", "public.h_bloat") is None
        await in_own_session(url, "DELETE FROM h_bloat WHERE id % 10 <> 0; ANALYZE h_bloat")

        async def both() -> Snapshot | None:
            snap = await fresh_snapshot(url)
            overdue = found(snap, "vacuum_overdue", "public.h_bloat")
            return snap if overdue and found(snap, "bloat_estimate", "public.h_bloat") else None

        snap = await wait_until(both, timeout=20, what="dead rows counted")
        overdue = found(snap, "vacuum_overdue", "public.h_bloat")
        assert overdue is not None
        assert overdue.severity is Severity.WARNING
        assert overdue.extra["n_dead_tup"] >= 100_000
        assert "(autovacuum is off); never vacuumed" in overdue.message
        assert overdue.statement == "VACUUM (ANALYZE, VERBOSE) public.h_bloat;"
        bloat = found(snap, "bloat_estimate", "public.h_bloat")
        assert bloat is not None
        assert bloat.severity is Severity.CRITICAL  # ~90 % of its pages are empty
        assert 0.85 < bloat.extra["bloat_share"] < 0.95
        assert bloat.statement == "VACUUM FULL public.h_bloat;"
        assert bloat.warning and "pg_repack" in bloat.warning
    finally:
        await admin.execute("DROP TABLE h_bloat")


async def test_identity_sequence_exhaustion(
    server: postgres.PrivatePostgres, admin: asyncpg.Connection
):
    """An identity column's sequence at 80 % of integer (test_health.py has a serial at
    95 %): a warning, the fix naming the table with its schema."""
    url = server.url()
    await admin.execute("CREATE TABLE h_ident (id int GENERATED ALWAYS AS IDENTITY, v int)")
    try:
        assert (
            found(await fresh_snapshot(url), "sequence_exhaustion", "public.h_ident_id_seq") is None
        )
        await admin.execute("SELECT setval('h_ident_id_seq', (2147483647 * 0.8)::int)")
        seq = found(await fresh_snapshot(url), "sequence_exhaustion", "public.h_ident_id_seq")
        assert seq is not None
        assert seq.severity is Severity.WARNING
        assert "(for public.h_ident.id)" in seq.message
        assert seq.statement == (
            'ALTER TABLE public.h_ident ALTER COLUMN "id" TYPE bigint; '
            "ALTER SEQUENCE public.h_ident_id_seq AS bigint;"
        )
        assert seq.warning == "ALTER COLUMN TYPE rewrites the table under an exclusive lock"
    finally:
        await admin.execute("DROP TABLE h_ident")


async def test_temp_files(
    server: postgres.PrivatePostgres, admin: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
):
    """A sort spilling with work_mem at its minimum; the threshold (1 GB) lowered to 1 MB,
    which a few MB of sort reach."""
    monkeypatch.setattr(pg_health, "TEMP_WARN_BYTES", 1024**2)
    url = server.url()
    await admin.execute("SELECT pg_stat_reset()")
    assert found(await fresh_snapshot(url), "temp_files", "database test") is None
    await in_own_session(
        url,
        "SET work_mem = '64kB'; SELECT sum(g) FROM (SELECT g FROM generate_series(1, 300000) g "
        "ORDER BY g DESC OFFSET 0) s",
    )
    finding = await wait_for(url, "temp_files", "database test", "temp_bytes counted")
    assert finding.severity is Severity.INFO
    assert finding.extra["temp_bytes"] >= 1024**2
    assert finding.warning == "raise work_mem for the queries or roles that spill, not globally"


async def test_connections_near_limit(server: postgres.PrivatePostgres):
    """max_connections 12, 3 reserved: 9 for normal roles; 80 % of them is a warning, 95 %
    critical. Clients are opened one at a time until each level is reached."""
    url = server.url()
    usable = MAX_CONNECTIONS - 3
    conns: list[asyncpg.Connection] = []
    try:
        snap = await fresh_snapshot(url)
        assert found(snap, "connections_near_limit", "max_connections") is None
        seen: dict[Severity, Finding] = {}
        while Severity.CRITICAL not in seen:
            assert len(conns) < usable, f"no critical finding at {len(conns)} clients"
            conns.append(await asyncpg.connect(url))
            finding = found(await fresh_snapshot(url), "connections_near_limit", "max_connections")
            if finding is not None:
                seen.setdefault(finding.severity, finding)
        warning = seen[Severity.WARNING]
        assert warning.extra["usable"] == usable
        assert warning.extra["connections"] == 8  # 8 of 9: 89 %
        assert seen[Severity.CRITICAL].extra["connections"] == usable
        assert "max_connections 12, 3 reserved" in warning.message
        assert warning.warning and "PgBouncer" in warning.warning
    finally:
        await asyncio.gather(*(c.close() for c in conns))
