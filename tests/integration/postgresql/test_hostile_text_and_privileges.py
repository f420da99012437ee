"""Issue 11, items 6 and 7: bytes that are not UTF-8 cannot blind dbtop, and a role without
pg_monitor is told what it cannot see instead of being shown idle sessions."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import asyncpg
import pytest

from dbtop.analysis.lockgraph import build_lock_forest
from dbtop.analysis.sessions import activity_counts, hidden_when_idle_hidden
from dbtop.engines.base import ConnectOptions
from dbtop.engines.postgresql import PostgresEngine
from dbtop.errors import PrivilegeError
from dbtop.model import KillMode, to_jsonable
from dbtop.ui.panes.sessions import state_cell

from .conftest import PLAIN_ROLE, eventually, with_user
from .test_bad_input import _ascii_database, _latin1_client

pytestmark = pytest.mark.timeout(90)


def _ff_client(url: str, marker: str) -> subprocess.Popen:
    # 0xff in the query and in application_name (which the server turns into "?")
    return _latin1_client(
        url,
        f"dbtop-test-\udcff-{marker}",
        f"SELECT pg_sleep(30) /* {marker} caf\xe9 \xff */".encode("latin-1"),
        track=False,
    )


async def _stop(proc: subprocess.Popen) -> None:
    proc.kill()
    await asyncio.to_thread(proc.wait)


async def test_a_sql_ascii_database_with_invalid_bytes_is_still_monitored(pg15_url):
    """Connected to the SQL_ASCII database itself: every text column arrives, with U+FFFD."""
    url = await _ascii_database(pg15_url)
    marker = f"dbtop_it_ff_{os.getpid()}"
    proc = _ff_client(url, marker)
    engine = PostgresEngine(url, ConnectOptions())
    await engine.connect()
    try:

        async def seen():
            snap = await engine.snapshot()
            return [s for s in snap.sessions if marker in (s.query or "")], snap

        async def found():
            sessions, _ = await seen()
            return sessions

        await eventually(found)
        (session,), snap = await seen()
        assert "\ufffd" in session.query
        assert session.application is not None and session.application.startswith("dbtop-test-")
        assert session.database == "dbtop_it_ascii"
        assert snap.server.database == "dbtop_it_ascii"
        assert not session.is_idle
    finally:
        await _stop(proc)
        await engine.close()


async def test_snapshot_json_on_a_sql_ascii_database_with_invalid_bytes(pg15_url):
    url = await _ascii_database(pg15_url)
    marker = f"dbtop_it_ffcli_{os.getpid()}"
    proc = _ff_client(url, marker)
    engine = PostgresEngine(url, ConnectOptions())
    await engine.connect()
    try:

        async def started():
            snap = await engine.snapshot()
            return [s for s in snap.sessions if marker in (s.query or "")]

        await eventually(started)
        run = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "dbtop.cli", "snapshot", url, "--json", "--interval", "0"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 0, run.stderr
        data = json.loads(run.stdout)
        (row,) = [s for s in data["sessions"] if marker in (s["query"] or "")]
        assert "\ufffd" in row["query"]
        assert row["hidden"] is None
    finally:
        await _stop(proc)
        await engine.close()


async def test_a_plain_role_sees_a_superusers_query_as_hidden_not_idle(pg_url, clients):
    other = await clients.connect("dbtop-test-superuser-query")
    other_pid = str(other.get_server_pid())
    clients.start(other, "SELECT pg_sleep(30)")
    engine = PostgresEngine(with_user(pg_url, PLAIN_ROLE), ConnectOptions())
    await engine.connect()
    try:

        async def seen():
            return (await engine.snapshot()).session(other_pid)

        session = await eventually(seen)
        snap = await engine.snapshot()
        session = snap.session(other_pid)
        assert session is not None
        assert session.hidden == "needs pg_monitor"
        assert not session.is_idle
        assert not hidden_when_idle_hidden(session, build_lock_forest(snap.lock_waits))
        assert state_cell(session) == "hidden: needs pg_monitor"
        active, hidden = activity_counts(snap.sessions)
        assert hidden >= 1
        assert active == sum(1 for s in snap.sessions if s.state == "active" and not s.is_self), (
            "a hidden session is not counted as active"
        )
        assert snap.server.extra["hidden_sessions"] == hidden
        (row,) = [s for s in to_jsonable(snap)["sessions"] if s["id"] == other_pid]
        assert row["hidden"] == "needs pg_monitor" and row["is_idle"] is False

        for mode in (KillMode.CANCEL, KillMode.TERMINATE):
            with pytest.raises(PrivilegeError) as caught:
                await engine.kill(other_pid, mode)
            message = str(caught.value)
            assert f"cannot {mode.value} session {other_pid}" in message
            assert "superuser" in message and "None" not in message
    finally:
        await engine.close()


async def test_a_plain_roles_refusal_for_another_plain_role_names_the_privilege(pg15_url):
    """Another non-superuser role's backend: pg_signal_backend or membership would do."""
    admin_conn = await asyncpg.connect(pg15_url)
    other_role = "dbtop_it_other"
    try:
        if not await admin_conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", other_role):
            await admin_conn.execute(f"CREATE ROLE {other_role} LOGIN")
    finally:
        await admin_conn.close()
    other = await asyncpg.connect(with_user(pg15_url, other_role))
    task = asyncio.ensure_future(other.execute("SELECT pg_sleep(30)"))
    engine = PostgresEngine(with_user(pg15_url, PLAIN_ROLE), ConnectOptions())
    await engine.connect()
    try:
        pid = str(other.get_server_pid())

        async def active():
            s = (await engine.snapshot()).session(pid)
            return s if s is not None and s.hidden else None

        session = await eventually(active)
        assert session.user == other_role
        with pytest.raises(PrivilegeError) as caught:
            await engine.kill(pid, KillMode.CANCEL)
        assert str(caught.value) == (
            f"cannot cancel session {pid}: it belongs to role {other_role}; "
            f"needs pg_signal_backend or membership in {other_role}"
        )
    finally:
        task.cancel()
        other.terminate()
        await engine.close()


async def test_object_names_with_invalid_bytes_reach_every_pane(pg15_url):
    """A table, column and index named with 0xff in a SQL_ASCII database, and a session
    waiting on a lock of that table: indexes, tables and the lock's object all arrive."""
    url = await _ascii_database(pg15_url)
    tag = f"{os.getpid()}"
    table = f'"dbtop_it_t{tag}\xff"'.encode("latin-1")
    setup = _latin1_client(
        url,
        "dbtop-test-ddl",
        b"CREATE TABLE IF NOT EXISTS " + table + b' (id int PRIMARY KEY, "c\xff" int);'
        b" CREATE INDEX IF NOT EXISTS "
        + f'"dbtop_it_i{tag}\xff"'.encode("latin-1")
        + b" ON "
        + table
        + b' ("c\xff") WHERE "c\xff" > 0',
        track=False,
    )
    assert await asyncio.to_thread(setup.wait) == 0
    holder = _latin1_client(
        url,
        "dbtop-test-holder",
        # SHARE: the waiter queues behind it, and catalog reads do not
        b"BEGIN; LOCK TABLE " + table + b" IN SHARE MODE; SELECT pg_sleep(30)",
        track=False,
    )
    engine = PostgresEngine(url, ConnectOptions())
    await engine.connect()
    waiter = None
    try:

        async def holding():
            snap = await engine.snapshot()
            return [s for s in snap.sessions if s.application == "dbtop-test-holder" and s.state]

        await eventually(holding)
        waiter = _latin1_client(
            url,
            "dbtop-test-waiter",
            b"BEGIN; LOCK TABLE " + table + b" IN ROW EXCLUSIVE MODE",
            track=False,
        )

        async def waiting():
            snap = await engine.snapshot()
            return snap if snap.lock_waits else None

        snap = await eventually(waiting)
        assert not [n for n in snap.notices if "invalid byte sequence" in n.message]
        (wait,) = [w for w in snap.lock_waits if f"dbtop_it_t{tag}" in (w.object or "")]
        assert "\ufffd" in wait.object
        names = {i.name for i in snap.indexes}
        assert f"dbtop_it_i{tag}\ufffd" in names
        (index,) = [i for i in snap.indexes if i.name == f"dbtop_it_i{tag}\ufffd"]
        assert index.columns == ('"c\ufffd"',)
        assert index.extra["predicate"] == '"c\ufffd" > 0'
        assert f"dbtop_it_t{tag}\ufffd" in {t.table for t in snap.tables}
    finally:
        for proc in (holder, waiter):
            if proc is not None:
                await _stop(proc)
        await engine.close()
        # a backend in pg_sleep does not notice its client went away: end them for the DROP
        admin = await asyncpg.connect(pg15_url)
        try:
            await admin.execute(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                "WHERE application_name IN ('dbtop-test-holder', 'dbtop-test-waiter')"
            )
        finally:
            await admin.close()
        drop = _latin1_client(url, "dbtop-test-ddl", b"DROP TABLE IF EXISTS " + table, track=False)
        await asyncio.to_thread(drop.wait)


async def test_statement_texts_of_a_sql_ascii_database_are_read(pg18_url):
    """Connected to the SQL_ASCII database, pg_stat_statements' texts with 0xff arrive with
    U+FFFD (textsend validated them and lost every text). The private PostgreSQL 18, reset
    after: the text would poison the UTF-8 databases' reads of texts."""
    url = await _ascii_database(pg18_url)
    admin = await asyncpg.connect(url)
    engine = PostgresEngine(url, ConnectOptions())
    try:
        await admin.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        await admin.execute("SELECT pg_stat_statements_reset()")
        proc = _latin1_client(
            url, "dbtop-test-ff-stmt", b"SELECT 1 AS dbtop_it_ff /* caf\xe9 */", track=True
        )
        assert await asyncio.to_thread(proc.wait) == 0
        await engine.connect()
        snap = await engine.snapshot()
        texts = [s.query for s in snap.statements if "dbtop_it_ff" in s.query]
        assert texts and "caf\ufffd" in texts[0]
        assert not [n for n in snap.notices if "not valid in this database" in n.message]
    finally:
        await admin.execute("SELECT pg_stat_statements_reset()")
        await admin.close()
        await engine.close()


async def test_a_cancel_by_pg_signal_backend_does_not_claim_what_it_cannot_see(pg15_url):
    """A role with pg_signal_backend but not pg_monitor may cancel another role's query,
    but cannot see whether it stopped: the result says so instead of "cancelled"."""
    admin = await asyncpg.connect(pg15_url)
    signaller, other_role = "dbtop_it_signaller", "dbtop_it_other"
    try:
        for role in (signaller, other_role):
            if not await admin.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
                await admin.execute(f"CREATE ROLE {role} LOGIN")
        await admin.execute(f"GRANT pg_signal_backend TO {signaller}")
    finally:
        await admin.close()
    other = await asyncpg.connect(with_user(pg15_url, other_role))
    task = asyncio.ensure_future(other.execute("SELECT pg_sleep(30)"))
    engine = PostgresEngine(with_user(pg15_url, signaller), ConnectOptions())
    await engine.connect()
    try:
        pid = str(other.get_server_pid())

        async def hidden():
            s = (await engine.snapshot()).session(pid)
            return s if s is not None and s.hidden else None

        await eventually(hidden)
        result = await engine.kill(pid, KillMode.CANCEL)
        assert not result.ok
        assert "hidden from this role (needs pg_monitor)" in result.message
        assert "None" not in result.message
        with pytest.raises(asyncpg.QueryCanceledError):
            await asyncio.wait_for(task, 10)
    finally:
        task.cancel()
        other.terminate()
        await engine.close()
