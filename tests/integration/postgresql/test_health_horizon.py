"""PostgreSQL's horizon, wraparound, replica and transaction checks, each against a
condition created on a PostgreSQL 15 of this module's own (tests/servers/postgres.py) with
wal_level logical (a logical slot holds catalog_xmin) and autovacuum_freeze_max_age at its
minimum, and a streaming standby of it. Each test first asserts the finding is absent, then
creates the condition and waits for it.

The transaction ID age is made by pg_resetwal -x on the stopped cluster (11 million xids in
a second, then a billion, where consuming them would take hours); it is the module's last
test, since the sessions do not survive the restart. Thresholds too costly to reach here (a
horizon held 10 million xids by a session, a replica 1 GB behind, transactions open for
minutes) are lowered for their test: the read is what these tests check, the thresholds are
unit-tested.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator

import asyncpg
import pytest

import dbtop.analysis.health.postgresql as pg_health
import dbtop.engines.postgresql.sessions as pg_sessions
from dbtop.model import Finding, Severity, Snapshot
from tests.integration.postgresql.conftest import fresh_snapshot, own_server
from tests.integration.postgresql.test_health_conditions import found, wait_for
from tests.servers import postgres
from tests.waiting import wait_until

SETTINGS = {"wal_level": "logical", "autovacuum_freeze_max_age": "100000"}


@pytest.fixture(scope="module")
def server() -> Iterator[postgres.PrivatePostgres]:
    yield from own_server(30, SETTINGS)


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
        assert found(await fresh_snapshot(url), "xmin_horizon", f"session {pid}") is None
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
        before = await fresh_snapshot(url)
        assert found(before, "long_transaction", busy_pid) is None
        assert found(before, "idle_in_transaction", idle_pid) is None
        await idle.execute("BEGIN; SELECT 1")
        sleeping = asyncio.ensure_future(busy.execute("BEGIN; SELECT pg_sleep(60)"))

        async def both() -> Snapshot | None:
            snap = await fresh_snapshot(url)
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
    # The primary keeps the WAL a (paused, on a busy machine) standby has not received yet:
    # a checkpoint removing it once made the standby drop out. Not a slot: with one the
    # standby's xmin is the slot's, not its walsender's (the test switches to one later).
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
    before = await fresh_snapshot(url)
    assert found(before, "replication_lag", "h_standby") is None
    reader = await asyncpg.connect(standby.url())
    try:
        await reader.execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1")
        await reader.execute("SELECT pg_wal_replay_pause()")
        await admin.execute("CREATE TABLE h_lag (v int)")
        for _ in range(3):  # xids past the standby's snapshot, and WAL it does not replay
            await admin.execute("INSERT INTO h_lag VALUES (1); SELECT pg_switch_wal()")

        async def both() -> Snapshot | None:
            snap = await fresh_snapshot(url)
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
            slot = found(await fresh_snapshot(url), "xmin_horizon", "slot h_standby_slot")
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
        before = await fresh_snapshot(url)
        assert [f for f in before.findings if f.kind in ("xid_wraparound", "xmin_horizon")] == []
        assert found(before, "prepared_transaction", "h gid") is not None
        current = int(await admin.fetchval("SELECT txid_current()"))
    finally:
        await admin.close()

    segment = 1_048_576  # xids per pg_xact file
    _jump_xids(server, ((current + 10_500_000) // segment + 1) * segment)

    admin = await asyncpg.connect(url)
    try:
        snap = await fresh_snapshot(url)
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
        snap = await fresh_snapshot(url)
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
            snap = await fresh_snapshot(url)
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
        snap = await fresh_snapshot(url)
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
