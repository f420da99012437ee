"""The health checks test_health.py does not reach, each against a condition created on a
PostgreSQL 15 of this module's own (tests/servers/postgres.py): small max_connections,
max_wal_size at its minimum, wal_level logical (a logical slot holds catalog_xmin) and
autovacuum_freeze_max_age at its minimum, so that each condition is cheap to create. Each
test first asserts the finding is absent, then creates the condition and waits for it.

The transaction ID age is made by pg_resetwal -x on the stopped cluster (11 million xids in
a second, where consuming them would take minutes); it is the module's last test, since
the sessions do not survive the restart. Two thresholds too costly to reach here (1 GB of
temporary files, a horizon held 10 million xids by a session) are lowered for their test:
the read is what these tests check, the thresholds are unit-tested.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

import dbtop.analysis.health.postgresql as pg_health
import dbtop.engines.postgresql.sessions as pg_sessions
from dbtop.engines.base import ConnectOptions
from dbtop.engines.postgresql import PostgresEngine
from dbtop.model import Finding, Severity, Snapshot
from tests.servers import postgres
from tests.waiting import wait_until

MAX_CONNECTIONS = 12
SETTINGS = {
    "wal_level": "logical",
    "max_wal_size": "'32MB'",
    "min_wal_size": "'32MB'",
    "autovacuum_freeze_max_age": "100000",
}


@pytest.fixture(scope="module")
def server() -> Iterator[postgres.PrivatePostgres]:
    try:
        srv = postgres.start(max_connections=MAX_CONNECTIONS, settings=SETTINGS)
    except postgres.Unavailable as exc:
        pytest.skip(f"no private PostgreSQL for the tests: {exc}")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
async def admin(server: postgres.PrivatePostgres) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(server.url())
    try:
        yield conn
    finally:
        await conn.close()


async def snapshot(url: str) -> Snapshot:
    """A snapshot from a new engine: its health figures are read now, not cached."""
    engine = PostgresEngine(url, ConnectOptions())
    await engine.connect()
    try:
        return await engine.snapshot()
    finally:
        await engine.close()


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
        return found(await snapshot(url), kind, obj)

    return await wait_until(check, timeout=timeout, what=what)


async def test_checkpoint_pressure(server: postgres.PrivatePostgres, admin: asyncpg.Connection):
    await admin.execute("SELECT pg_stat_reset_shared('bgwriter')")
    assert found(await snapshot(server.url()), "checkpoint_pressure", "checkpoints") is None
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
    assert found(await snapshot(url), "replication_slot_inactive", "h_phys") is None
    await admin.execute("SELECT pg_create_physical_replication_slot('h_phys', true)")
    drop = "SELECT pg_drop_replication_slot('h_phys');"
    try:
        first = await snapshot(url)
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
            snap = await snapshot(url)
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
        before = await snapshot(url)
        assert found(before, "vacuum_overdue", "public.h_bloat") is None
        assert found(before, "bloat_estimate", "public.h_bloat") is None
        await in_own_session(url, "DELETE FROM h_bloat WHERE id % 10 <> 0; ANALYZE h_bloat")

        async def both() -> Snapshot | None:
            snap = await snapshot(url)
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
        assert found(await snapshot(url), "sequence_exhaustion", "public.h_ident_id_seq") is None
        await admin.execute("SELECT setval('h_ident_id_seq', (2147483647 * 0.8)::int)")
        seq = found(await snapshot(url), "sequence_exhaustion", "public.h_ident_id_seq")
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
    assert found(await snapshot(url), "temp_files", "database test") is None
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
        snap = await snapshot(url)
        assert found(snap, "connections_near_limit", "max_connections") is None
        seen: dict[Severity, Finding] = {}
        while Severity.CRITICAL not in seen:
            assert len(conns) < usable, f"no critical finding at {len(conns)} clients"
            conns.append(await asyncpg.connect(url))
            finding = found(await snapshot(url), "connections_near_limit", "max_connections")
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


async def test_xmin_horizon_held_by_a_session_s_xid(
    server: postgres.PrivatePostgres, admin: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
):
    """A transaction that wrote and sits idle (READ COMMITTED) has no snapshot, only its xid:
    it is the holder, and must be named. The threshold (10 million xids) lowered to 1."""
    monkeypatch.setattr(pg_health, "XMIN_WARN_XIDS", 1)
    url = server.url()
    holder = await asyncpg.connect(url)
    pid = holder.get_server_pid()
    try:
        await admin.execute("CREATE TABLE h_xid (v int)")
        await holder.execute("BEGIN")
        assert found(await snapshot(url), "xmin_horizon", f"session {pid}") is None
        await holder.execute("INSERT INTO h_xid VALUES (1)")
        row = await admin.fetchrow(
            "SELECT backend_xid, backend_xmin FROM pg_stat_activity WHERE pid = $1", pid
        )
        assert row["backend_xid"] is not None and row["backend_xmin"] is None
        for _ in range(3):  # the horizon falls behind
            await admin.execute("SELECT txid_current()")
        finding = await wait_for(url, "xmin_horizon", f"session {pid}", "the xid holder")
        assert finding.severity is Severity.WARNING
        assert finding.extra["xid_age"] >= 3
        assert finding.statement == f"SELECT pg_terminate_backend({pid});"
    finally:
        await holder.close()
        await admin.execute("DROP TABLE h_xid")


async def test_long_and_idle_transactions(
    server: postgres.PrivatePostgres, monkeypatch: pytest.MonkeyPatch
):
    """A transaction running a statement is a long transaction; one sitting idle is idle in
    transaction (not both). Thresholds lowered: 0.5 s (from 5 min and 60 s)."""
    monkeypatch.setattr(pg_health, "LONG_XACT_WARN_S", 0.5)
    monkeypatch.setattr(pg_sessions, "IDLE_IN_XACT_S", 0.5)
    url = server.url()
    busy, idle = await asyncpg.connect(url), await asyncpg.connect(url)
    busy_pid, idle_pid = str(busy.get_server_pid()), str(idle.get_server_pid())
    sleeping = None
    try:
        before = await snapshot(url)
        assert found(before, "long_transaction", busy_pid) is None
        assert found(before, "idle_in_transaction", idle_pid) is None
        await idle.execute("BEGIN; SELECT 1")
        sleeping = asyncio.ensure_future(busy.execute("BEGIN; SELECT pg_sleep(60)"))

        async def both() -> Snapshot | None:
            snap = await snapshot(url)
            long = found(snap, "long_transaction", busy_pid)
            return snap if long and found(snap, "idle_in_transaction", idle_pid) else None

        snap = await wait_until(both, timeout=20, what="both transactions past 0.5 s")
        long = found(snap, "long_transaction", busy_pid)
        assert long is not None and long.severity is Severity.WARNING
        assert long.statement == f"SELECT pg_cancel_backend({busy_pid});"
        assert long.extra["state"] == "active"
        idling = found(snap, "idle_in_transaction", idle_pid)
        assert idling is not None and idling.severity is Severity.WARNING
        assert found(snap, "long_transaction", idle_pid) is None
        assert found(snap, "idle_in_transaction", busy_pid) is None
    finally:
        if sleeping is not None:
            sleeping.cancel()
        busy.terminate()
        await idle.close()


@pytest.fixture
def standby(server: postgres.PrivatePostgres) -> Iterator[postgres.PrivatePostgres]:
    # With max_wal_size at its minimum, the primary's checkpoints would remove WAL a
    # (paused, on a busy machine) standby has not received yet. Not a slot: with one the
    # standby's xmin is the slot's, not its walsender's.
    server.psql("ALTER SYSTEM SET wal_keep_size = '1GB'")
    server.psql("SELECT pg_reload_conf()")
    replica = postgres.start_standby(
        server,
        settings={
            "cluster_name": "'h_standby'",  # its walreceiver's application_name
            "hot_standby_feedback": "on",
            "wal_receiver_status_interval": "1",
        },
    )
    try:
        yield replica
    finally:
        replica.stop()
        server.psql(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
            "WHERE slot_name = 'h_standby_slot'"
        )
        server.psql("ALTER SYSTEM RESET wal_keep_size")
        server.psql("SELECT pg_reload_conf()")


async def test_replica_lag_and_a_standby_holding_the_horizon(
    server: postgres.PrivatePostgres,
    standby: postgres.PrivatePostgres,
    admin: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
):
    """A standby with hot_standby_feedback and a snapshot held on it holds the primary's
    horizon; with its replay paused, it falls behind. Thresholds lowered: 1 MB of lag (from
    1 GB), a horizon 1 xid old (from 10 million)."""
    monkeypatch.setattr(pg_health, "LAG_WARN_BYTES", 1024**2)
    monkeypatch.setattr(pg_health, "XMIN_WARN_XIDS", 1)
    url = server.url()

    async def streaming() -> bool:
        state = await admin.fetchval(
            "SELECT state FROM pg_stat_replication WHERE application_name = 'h_standby'"
        )
        return state == "streaming"

    await wait_until(streaming, timeout=20, what="the standby streaming")
    before = await snapshot(url)
    assert found(before, "replication_lag", "h_standby") is None
    reader = await asyncpg.connect(standby.url())
    try:
        await reader.execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1")
        await reader.execute("SELECT pg_wal_replay_pause()")
        await admin.execute("CREATE TABLE h_lag (v int)")
        for _ in range(3):  # xids past the standby's snapshot, and WAL it does not replay
            await admin.execute("INSERT INTO h_lag VALUES (1); SELECT pg_switch_wal()")

        async def both() -> Snapshot | None:
            snap = await snapshot(url)
            lag = found(snap, "replication_lag", "h_standby")
            return snap if lag and found(snap, "xmin_horizon", "standby h_standby") else None

        snap = await wait_until(both, timeout=20, what="the standby behind and holding")
        lag = found(snap, "replication_lag", "h_standby")
        assert lag is not None and lag.severity is Severity.WARNING
        assert lag.extra["lag_bytes"] >= 1024**2
        assert lag.extra["state"] == "streaming"
        assert "reads there are stale" in lag.message
        holder = found(snap, "xmin_horizon", "standby h_standby")
        assert holder is not None and holder.severity is Severity.WARNING
        assert "standby h_standby (hot_standby_feedback)" in holder.message
        assert holder.statement is None  # nothing to run on the primary for it

        # Streaming through a slot, the standby's xmin is the slot's: an active slot, which
        # cannot be dropped (its consumer is connected), nor should be.
        await admin.execute("SELECT pg_create_physical_replication_slot('h_standby_slot')")
        await reader.execute("SELECT pg_wal_replay_resume()")
        standby.psql("ALTER SYSTEM SET primary_slot_name = 'h_standby_slot'")
        standby.psql("SELECT pg_reload_conf()")

        async def through_slot() -> Finding | None:
            await admin.execute("SELECT txid_current()")  # an xid past the standby's snapshot
            slot = found(await snapshot(url), "xmin_horizon", "slot h_standby_slot")
            return slot if slot and slot.extra["xid_age"] >= 1 else None

        slot = await wait_until(through_slot, timeout=20, what="the standby's xmin on its slot")
        assert slot.statement is None
        assert "(in use: by a standby's queries, or a slow logical consumer)" in slot.message
        assert slot.warning and "hot_standby_feedback" in slot.warning
        with pytest.raises(asyncpg.ObjectInUseError):  # what the drop would have said
            await admin.execute("SELECT pg_drop_replication_slot('h_standby_slot')")
    finally:
        await reader.close()
        await admin.execute("DROP TABLE IF EXISTS h_lag")


def _jump_xids(server: postgres.PrivatePostgres, next_xid: int) -> None:
    """Stop the cluster, set its next xid (pg_resetwal -x), start it again. On a page
    boundary of pg_xact (multiples of 1,048,576 are), the server needs no page there yet."""
    server.shut_down()
    server.run("pg_resetwal", "-x", str(next_xid), "-D", str(server.pgdata))
    server.start_again()


async def test_wraparound_and_horizon_held_by_a_slot_and_a_prepared_transaction(
    server: postgres.PrivatePostgres,
):
    """The module's last test (it restarts the server). A logical slot (catalog_xmin) and a
    prepared transaction (its xid, and a lock the anti-wraparound vacuum then waits for),
    then 11 million xids: both named as holders, the databases and tables past
    autovacuum_freeze_max_age, and the vacuum worker stuck behind them not named. Then a
    billion xids: critical."""
    url = server.url()
    admin = await asyncpg.connect(url)
    try:
        # The slot first: creating a logical slot waits for running transactions, the
        # prepared one included.
        await admin.execute(
            "SELECT pg_create_logical_replication_slot('h_logical', 'test_decoding');"
            "CREATE TABLE h_locked (v int)"
        )
        preparer = await asyncpg.connect(url)
        await preparer.execute(
            "BEGIN; LOCK TABLE h_locked IN SHARE UPDATE EXCLUSIVE MODE;"
            "INSERT INTO h_locked VALUES (1); PREPARE TRANSACTION 'h gid'"
        )
        await preparer.close()
        before = await snapshot(url)
        assert [f for f in before.findings if f.kind in ("xid_wraparound", "xmin_horizon")] == []
        assert found(before, "prepared_transaction", "h gid") is not None
        current = int(await admin.fetchval("SELECT txid_current()"))
    finally:
        await admin.close()

    segment = 1_048_576  # xids per pg_xact file
    _jump_xids(server, ((current + 10_500_000) // segment + 1) * segment)

    admin = await asyncpg.connect(url)
    try:
        snap = await snapshot(url)
        slot = found(snap, "xmin_horizon", "slot h_logical")
        assert slot is not None, [(f.kind, f.object) for f in snap.findings]
        assert slot.severity is Severity.WARNING
        assert slot.extra["xid_age"] > pg_health.XMIN_WARN_XIDS
        assert slot.statement == "SELECT pg_drop_replication_slot('h_logical');"
        assert slot.warning == "its consumer must then resync"
        prepared = found(snap, "xmin_horizon", "prepared h gid")
        assert prepared is not None
        assert prepared.severity is Severity.WARNING
        assert prepared.statement == "ROLLBACK PREPARED 'h gid';"
        database = found(snap, "xid_wraparound", "database test")
        assert database is not None
        assert database.severity is Severity.WARNING
        assert database.extra["freeze_max_age"] == 100_000
        assert database.extra["xid_age"] > 10_000_000
        tables = [f for f in snap.findings if f.kind == "xid_wraparound" and " " not in f.object]
        assert tables, "no table past autovacuum_freeze_max_age"
        assert all(f.object.startswith(("pg_catalog.", "pg_toast.", "public.")) for f in tables)
        assert all(f.statement == f"VACUUM (FREEZE, VERBOSE) {f.object};" for f in tables)

        # The anti-wraparound vacuum (it runs with autovacuum off) waits for the prepared
        # transaction's lock on h_locked, with the held-back xmin as its own: it is not
        # a holder, and terminating it is not the fix.
        async def vacuum_waiting() -> int | None:
            return await admin.fetchval(
                "SELECT pid FROM pg_stat_activity WHERE backend_type = 'autovacuum worker' "
                "AND wait_event_type = 'Lock' AND backend_xmin IS NOT NULL"
            )

        worker = await wait_until(vacuum_waiting, timeout=30, what="the vacuum behind the lock")
        snap = await snapshot(url)
        assert snap.session(str(worker)) is not None
        assert found(snap, "xmin_horizon", f"session {worker}") is None
        assert found(snap, "xmin_horizon", "prepared h gid") is not None

        # Busy sessions, each with a snapshot: their xmin is the prepared transaction's xid
        # (the oldest running), as old as it. They are listed too, but after the holders
        # whose age is their own: five of them do not push the prepared transaction out.
        readers = [await asyncpg.connect(url) for _ in range(5)]
        try:
            for reader in readers:
                await reader.execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1")
            ages = await admin.fetch(
                "SELECT DISTINCT backend_xmin = (SELECT transaction FROM pg_prepared_xacts) "
                "AS same FROM pg_stat_activity WHERE pid = ANY($1::int[])",
                [r.get_server_pid() for r in readers],
            )
            assert [r["same"] for r in ages] == [True]
            snap = await snapshot(url)
            holders = [f.object for f in snap.findings if f.kind == "xmin_horizon"]
            assert holders[:2] == ["slot h_logical", "prepared h gid"], holders
        finally:
            for reader in readers:
                await reader.close()

        cli = subprocess.run(
            [sys.executable, "-m", "dbtop.cli", "health", url, "--json", "--fail-on", "warning"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert cli.returncode == 1, cli.stderr
        listed = {(f["kind"], f["object"]) for f in json.loads(cli.stdout)["findings"]}
        assert {
            ("xmin_horizon", "slot h_logical"),
            ("xmin_horizon", "prepared h gid"),
            ("xid_wraparound", "database test"),
        } <= listed

        # Past a billion: critical. The prepared transaction goes first (the server would
        # otherwise zero pg_subtrans from its xid on, 4 GB); the logical slot stays and
        # keeps the catalog, so the database, from being frozen.
        await admin.execute("ROLLBACK PREPARED 'h gid'")
        current = int(await admin.fetchval("SELECT txid_current()"))
    finally:
        with contextlib.suppress(asyncpg.PostgresError):
            await admin.execute("ROLLBACK PREPARED 'h gid'")
        await admin.close()
    _jump_xids(server, (max(current, pg_health.XID_CRITICAL) // segment + 2) * segment)
    admin = await asyncpg.connect(url)
    try:
        snap = await snapshot(url)
        database = found(snap, "xid_wraparound", "database test")
        assert database is not None and database.severity is Severity.CRITICAL
        assert database.extra["xid_age"] >= pg_health.XID_CRITICAL
        assert "(47% of the way to the wraparound stop at 2^31" in database.message
        slot = found(snap, "xmin_horizon", "slot h_logical")
        assert slot is not None and slot.severity is Severity.CRITICAL
    finally:
        with contextlib.suppress(asyncpg.PostgresError):
            await admin.execute("SELECT pg_drop_replication_slot('h_logical')")
        await admin.close()
