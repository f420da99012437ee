"""Health checks and maintenance progress against the tests' private PostgreSQL 15 (which
has max_prepared_transactions and wal_level replica): each test creates the condition,
then asserts the finding's kind and object, and cleans up."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
from collections.abc import AsyncIterator

import asyncpg
import pytest

from dbtop.engines.base import ConnectOptions
from dbtop.engines.postgresql import PostgresEngine
from dbtop.model import Feature, Finding, Severity, Snapshot
from tests.integration.postgresql.conftest import PLAIN_ROLE, fresh_snapshot, with_user
from tests.waiting import wait_until


@pytest.fixture
async def admin(pg15_admin_url: str, pg15_is_private: bool) -> AsyncIterator[asyncpg.Connection]:
    if not pg15_is_private:
        pytest.skip("needs the tests' own PostgreSQL (max_prepared_transactions)")
    conn = await asyncpg.connect(pg15_admin_url)
    try:
        yield conn
    finally:
        await conn.close()


def _found(snapshot: Snapshot, kind: str, obj: str) -> Finding:
    matches = [f for f in snapshot.findings if f.kind == kind and f.object == obj]
    assert matches, f"no {kind} on {obj} in {[(f.kind, f.object) for f in snapshot.findings]}"
    return matches[0]


async def test_conditions_are_found(admin: asyncpg.Connection, pg15_admin_url: str) -> None:
    """A sequence at 95 % of an integer, a physical slot reserving WAL with no consumer, a
    prepared transaction and an invalid index, in one snapshot (and in dbtop health)."""
    await admin.execute(
        "DROP TABLE IF EXISTS h17_seq, h17_dup; CREATE TABLE h17_seq (id serial PRIMARY KEY);"
        "CREATE TABLE h17_dup (v int); INSERT INTO h17_dup VALUES (1), (1)"
    )
    await admin.execute("SELECT setval('h17_seq_id_seq', (2147483647 * 0.95)::int)")
    with contextlib.suppress(asyncpg.PostgresError):
        await admin.execute("CREATE UNIQUE INDEX CONCURRENTLY h17_uniq ON h17_dup (v)")
    await admin.execute("SELECT pg_create_physical_replication_slot('h17_slot', true)")
    preparer = await asyncpg.connect(pg15_admin_url)
    try:
        await preparer.execute(
            "BEGIN; INSERT INTO h17_dup VALUES (2); PREPARE TRANSACTION 'h17 gid'"
        )
        snapshot = await fresh_snapshot(pg15_admin_url)
        seq = _found(snapshot, "sequence_exhaustion", "public.h17_seq_id_seq")
        assert seq.severity is Severity.CRITICAL
        assert seq.statement and "TYPE bigint" in seq.statement
        slot = _found(snapshot, "replication_slot_inactive", "h17_slot")
        assert slot.extra["retained_bytes"] is not None
        assert slot.statement == "SELECT pg_drop_replication_slot('h17_slot');"
        prepared = _found(snapshot, "prepared_transaction", "h17 gid")
        assert prepared.statement == "ROLLBACK PREPARED 'h17 gid';"
        invalid = _found(snapshot, "invalid_index", "public.h17_uniq")
        assert invalid.statement == "DROP INDEX CONCURRENTLY public.h17_uniq;"

        cli = subprocess.run(
            [sys.executable, "-m", "dbtop.cli", "health", pg15_admin_url, "--json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert cli.returncode == 1, cli.stderr  # the sequence is critical
        document = json.loads(cli.stdout)
        kinds = [(f["kind"], f["object"]) for f in document["findings"]]
        assert ("sequence_exhaustion", "public.h17_seq_id_seq") in kinds
        assert document["findings"][0]["severity"] == "critical"
        snap = subprocess.run(
            [
                sys.executable,
                "-m",
                "dbtop.cli",
                "snapshot",
                pg15_admin_url,
                "--json",
                "--interval",
                "0",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert snap.returncode == 0, snap.stderr
        in_snapshot = {(f["kind"], f["object"]) for f in json.loads(snap.stdout)["findings"]}
        assert {
            ("prepared_transaction", "h17 gid"),
            ("replication_slot_inactive", "h17_slot"),
        } <= in_snapshot
    finally:
        with contextlib.suppress(asyncpg.PostgresError):
            await admin.execute("ROLLBACK PREPARED 'h17 gid'")
        await preparer.close()
        await admin.execute("SELECT pg_drop_replication_slot('h17_slot')")
        await admin.execute("DROP TABLE IF EXISTS h17_seq, h17_dup")


async def test_create_index_progress(admin: asyncpg.Connection, pg15_admin_url: str) -> None:
    """A CREATE INDEX slowed by an expression calling a slow function shows its phase,
    percent and (from the second poll that sees it move) time left on its session."""
    await admin.execute(
        "DROP TABLE IF EXISTS h17_big; CREATE TABLE h17_big AS "
        "SELECT g AS v FROM generate_series(1, 20000) g;"
        "CREATE OR REPLACE FUNCTION h17_slow(i int) RETURNS int IMMUTABLE LANGUAGE plpgsql "
        "AS $$ BEGIN PERFORM pg_sleep(0.0003); RETURN i; END $$"
    )
    builder = await asyncpg.connect(pg15_admin_url)
    pid = builder.get_server_pid()
    await builder.execute("SET max_parallel_maintenance_workers = 0")
    build = asyncio.ensure_future(
        builder.execute("CREATE INDEX h17_slow_idx ON h17_big (h17_slow(v))")
    )
    engine = PostgresEngine(pg15_admin_url, ConnectOptions())
    await engine.connect()
    try:

        async def moving() -> object:
            session = (await engine.snapshot()).session(str(pid))
            progress = session.progress if session else None
            if progress is None or progress.eta_s is None:
                return None
            return progress

        progress = await wait_until(moving, timeout=20, what="CREATE INDEX progress with an ETA")
        assert progress.command == "CREATE INDEX"
        assert progress.phase == "building index: scanning table"
        assert progress.unit == "blocks"
        assert progress.percent is not None and 0 < progress.percent < 100
    finally:
        await admin.execute(f"SELECT pg_cancel_backend({pid})")
        with contextlib.suppress(asyncpg.PostgresError):
            await build
        await builder.close()
        await engine.close()
        await admin.execute("DROP TABLE IF EXISTS h17_big; DROP FUNCTION IF EXISTS h17_slow(int)")


async def test_a_role_without_pg_monitor_is_told_what_it_cannot_check(pg15_url: str) -> None:
    snapshot = await fresh_snapshot(with_user(pg15_url, PLAIN_ROLE))
    health = [n for n in snapshot.notices if n.feature is Feature.HEALTH]
    assert [n.hint for n in health if "pg_monitor" in (n.hint or "")] == [
        "GRANT pg_monitor TO <role>"
    ]
    assert not [n for n in snapshot.notices if n.message.startswith("could not read health")]


async def test_every_health_read_runs_on_15_and_18(engine: PostgresEngine) -> None:
    """The version-dependent reads (pg_stat_checkpointer on 17+, the progress views, the
    slots' wal_status) run without error on both servers."""
    snapshot = await engine.snapshot()
    failed = [n.message for n in snapshot.notices if n.message.startswith("could not read")]
    assert failed == []
    assert engine.capabilities.has(Feature.HEALTH)
