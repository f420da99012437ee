"""Issue 11, item 6: a statement whose bytes are not UTF-8 cannot blind the MySQL poll."""

from __future__ import annotations

import asyncio
import os
import threading
import uuid

import pymysql
import pytest

from dbtop.engines.base import ConnectOptions
from dbtop.engines.mysql import MySQLEngine
from tests.waiting import wait_until

from .conftest import SHARED_DB, SHARED_HOST, SHARED_PORT

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("charset", ["utf8mb4", "latin1", "ascii"])
async def test_a_query_with_invalid_utf8_bytes_does_not_break_the_snapshot(shared_url, charset):
    marker = f"dbtop_it_ff_{os.getpid()}_{charset}"
    conn = pymysql.connect(
        host=SHARED_HOST, port=SHARED_PORT, user="root", database=SHARED_DB, charset=charset
    )
    sql = f"SELECT SLEEP(20), '{marker} ".encode() + b"\xff\xfe'"
    worker = threading.Thread(target=conn.cursor().execute, args=(sql,), daemon=True)
    worker.start()
    engine = MySQLEngine(shared_url, ConnectOptions())
    await engine.connect()
    try:

        async def seen():
            snap = await engine.snapshot()
            return [s for s in snap.sessions if marker in (s.query or "")]

        (session,) = await wait_until(seen, 10, "the session with invalid bytes")
        assert not session.is_idle
    finally:
        await engine.close()
        killer = pymysql.connect(host=SHARED_HOST, port=SHARED_PORT, user="root")
        killer.cursor().execute(f"KILL {conn.thread_id()}")
        killer.close()
        await asyncio.to_thread(worker.join, 10)


async def test_an_account_without_process_is_told_other_sessions_are_not_shown(
    pfs_server, engine_for
):
    """Item 7 for MySQL: without PROCESS the server lists only the account's own threads;
    the notice says the others are missing (not idle), and none of them shows as idle."""
    name = f"dbtop_np_{uuid.uuid4().hex[:8]}"
    admin = pfs_server.connect()
    with admin.cursor() as cur:
        cur.execute(f"CREATE USER '{name}'@'%' IDENTIFIED BY 'pw-{name}'")
    try:
        engine = await engine_for(pfs_server.url("", name, f"pw-{name}"))
        snap = await engine.snapshot()
        (notice,) = [n for n in snap.capabilities.notices if "PROCESS" in (n.hint or "")]
        assert "other accounts' sessions are not shown" in notice.message
        assert all(s.user == name for s in snap.sessions)
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP USER '{name}'@'%'")
        admin.close()
