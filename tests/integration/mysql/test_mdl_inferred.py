"""A metadata-lock wait on the shared MariaDB, where performance_schema is off and
metadata_lock_info is not installed: the waiter is shown, and the session whose open
transaction holds the lock as its probable holder, marked inferred (engine and CLI)."""

from __future__ import annotations

import asyncio
import contextlib

import pymysql
import pytest

from tests.integration.cli.conftest import dbtop

from .conftest import SHARED_DB, SHARED_HOST, SHARED_PORT, run, until

pytestmark = pytest.mark.timeout(90)


async def _no_exact_view(conn) -> None:
    rows = await run(conn, "SELECT @@performance_schema")
    plugin = await run(
        conn,
        "SELECT 1 FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'METADATA_LOCK_INFO' "
        "AND PLUGIN_STATUS = 'ACTIVE'",
    )
    if rows[0][0] or plugin:
        pytest.skip("the shared MariaDB shows metadata locks exactly; nothing to infer")


async def test_mdl_wait_shows_the_probable_holder_inferred(shared_url, engine_for, clients):
    holder = await clients.open(SHARED_PORT, SHARED_DB, SHARED_HOST)
    alter = await clients.open(SHARED_PORT, SHARED_DB, SHARED_HOST)
    await _no_exact_view(holder)
    holder_id, alter_id = str(holder.thread_id()), str(alter.thread_id())
    waiting = None
    try:
        await run(holder, "BEGIN")
        await run(holder, "SELECT * FROM mdl_t")
        await run(alter, "SET SESSION lock_wait_timeout = 60")
        waiting = clients.background(alter, "ALTER TABLE mdl_t ADD COLUMN inferred_col INT")
        engine = await engine_for(shared_url)
        snap = await until(
            engine,
            lambda s: any(w.waiter == alter_id for w in s.lock_waits),
            what=f"a lock wait of session {alter_id}",
        )
        edges = {(w.waiter, w.blocker): w for w in snap.lock_waits}
        edge = edges[(alter_id, holder_id)]
        assert edge.lock_type == "metadata" and edge.mode == "EXCLUSIVE"
        assert edge.object == f"{SHARED_DB}.mdl_t"
        assert edge.extra["inferred"] is True
        assert edge.extra["inferred_reason"].startswith("open transaction since ")
        assert snap.session(alter_id).blocked_by == (holder_id,)
        notice = next(n for n in snap.notices if "metadata lock" in n.message)
        assert "metadata_lock_info" in (notice.hint or "")

        result = await asyncio.to_thread(dbtop, "snapshot", shared_url, "--interval", "0")
        assert result.code == 0, result.err
        lines = result.out.splitlines()
        root = next(n for n, line in enumerate(lines) if f"{holder_id}  root blocker" in line)
        waiter = lines[root + 1]
        assert alter_id in waiter and "inferred: open transaction since" in waiter, result.out
    finally:
        if waiting is not None and not waiting.done():
            killer = await clients.open(SHARED_PORT, SHARED_DB, SHARED_HOST)
            await run(killer, f"KILL QUERY {alter_id}")
            await asyncio.gather(waiting, return_exceptions=True)
        with contextlib.suppress(pymysql.err.MySQLError):
            await run(holder, "ROLLBACK")
        columns = await run(
            holder,
            "SELECT 1 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
            "AND TABLE_NAME = 'mdl_t' AND COLUMN_NAME = 'inferred_col'",
        )
        if columns:
            await run(holder, "ALTER TABLE mdl_t DROP COLUMN inferred_col")
