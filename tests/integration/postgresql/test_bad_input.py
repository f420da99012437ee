"""One clear line for what users get wrong, and no crash on what servers hold."""

from __future__ import annotations

import asyncio
import os
import subprocess
from urllib.parse import urlsplit

import asyncpg
import pytest

from dbtop.engines.base import ConnectOptions
from dbtop.engines.postgresql import PostgresEngine
from dbtop.errors import AuthError, ConnectError, NotFoundError, PrivilegeError, UsageError
from dbtop.model import KillMode

from .conftest import PASSWORD_ROLE, PLAIN_ROLE, eventually, with_user

pytestmark = pytest.mark.timeout(90)


async def test_wrong_password_is_an_auth_error_without_the_password(pg18_url):
    engine = PostgresEngine(with_user(pg18_url, PASSWORD_ROLE, "wrong-s3cret"), ConnectOptions())
    with pytest.raises(AuthError) as caught:
        await engine.connect()
    assert "password authentication failed" in str(caught.value)
    assert "wrong-s3cret" not in str(caught.value)
    good = PostgresEngine(with_user(pg18_url, PASSWORD_ROLE, "right"), ConnectOptions())
    await good.connect()
    await good.close()


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("postgresql://u@127.0.0.1:notaport/db", UsageError),
        ("postgresql://postgres@127.0.0.1:1/test", ConnectError),
        ("postgresql://postgres@no-such-host.invalid/test", ConnectError),
        # {server}: host and port of the session's PostgreSQL 15
        ("postgresql://postgres@{server}/dbtop_no_such_db", NotFoundError),
        ("postgresql://dbtop_no_such_role@{server}/test", AuthError),
    ],
)
async def test_connect_failures_are_one_line_errors(url, error, request):
    if "{server}" in url:
        admin = request.getfixturevalue("pg15_admin_url")
        url = url.format(server=urlsplit(admin).netloc.rsplit("@", 1)[-1])
    with pytest.raises(error) as caught:
        engine = PostgresEngine(url, ConnectOptions(connect_timeout_s=3))
        await engine.connect()
    assert "\n" not in str(caught.value)


async def test_a_role_without_pg_monitor_still_works_and_says_what_it_misses(pg_url, clients):
    other = await clients.connect("dbtop-test-someone-else")
    other_pid = str(other.get_server_pid())
    clients.start(other, "SELECT pg_sleep(30)")
    engine = PostgresEngine(with_user(pg_url, PLAIN_ROLE), ConnectOptions())
    await engine.connect()
    try:
        hints = " ".join(n.hint or "" for n in engine.capabilities.notices)
        assert "GRANT pg_monitor" in hints

        async def seen():
            return (await engine.snapshot()).session(other_pid)

        session = await eventually(seen)
        assert session.query == "<insufficient privilege>"
        with pytest.raises(PrivilegeError, match="pg_signal_backend"):
            await engine.kill(other_pid, KillMode.TERMINATE)
    finally:
        await engine.close()


async def _ascii_database(url: str) -> str:
    admin = await asyncpg.connect(url)
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = 'dbtop_it_ascii'"):
            await admin.execute(
                "CREATE DATABASE dbtop_it_ascii ENCODING 'SQL_ASCII' TEMPLATE template0 "
                "LC_COLLATE 'C' LC_CTYPE 'C'"
            )
    finally:
        await admin.close()
    return url.replace("/dbtop_pg_it", "/dbtop_it_ascii")


def _latin1_client(url: str, app: str, sql: bytes, *, track: bool) -> subprocess.Popen:
    """psql passes the bytes through: a SQL_ASCII database stores them unchecked."""
    env = {**os.environ, "PGCLIENTENCODING": "LATIN1", "PGAPPNAME": app}
    if not track:
        # keeps the shared server's pg_stat_statements clean for everyone else
        env["PGOPTIONS"] = "-c pg_stat_statements.track=none"
    return subprocess.Popen(
        ["psql", url, "-q", "-c", sql],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def test_query_text_that_is_not_utf8_does_not_break_the_poll(pg15_url):
    url = await _ascii_database(pg15_url)
    app = f"dbtop-test-latin1-{os.getpid()}"
    proc = _latin1_client(url, app, b"SELECT pg_sleep(8) /* caf\xe9 */", track=False)
    engine = PostgresEngine(pg15_url, ConnectOptions())
    await engine.connect()
    try:

        async def seen():
            snap = await engine.snapshot()
            return [s for s in snap.sessions if s.application == app]

        (session,) = await eventually(seen)
        assert "caf" in session.query and "\ufffd" in session.query
    finally:
        proc.kill()
        await asyncio.to_thread(proc.wait)
        await engine.close()


async def test_a_statement_text_that_is_not_utf8_keeps_the_counters(pg18_url):
    """One such text makes pg_stat_statements(true) fail for every UTF-8 database: the
    statements still come, with their counters, and a notice says why texts are missing.
    Run on the private PostgreSQL 18, and cleaned up: the poison would stay otherwise."""
    url = await _ascii_database(pg18_url)
    admin = await asyncpg.connect(pg18_url)
    engine = PostgresEngine(pg18_url, ConnectOptions())
    try:
        await admin.execute("SELECT pg_stat_statements_reset()")
        proc = _latin1_client(url, "dbtop-test-poison", b"SELECT 1 /* caf\xe9 */", track=True)
        await asyncio.to_thread(proc.wait)
        for _ in range(5):
            await admin.fetchval("SELECT count(*) + 0 AS dbtop_it_poisoned FROM pg_class")
        await engine.connect()
        snap = await engine.snapshot()
        hits = [s for s in snap.statements if s.calls >= 5 and s.database == "dbtop_pg_it"]
        assert hits, "the counters are still read"
        assert all(s.query == "<query text unavailable>" for s in snap.statements)
        assert any("not valid in this database's encoding" in n.message for n in snap.notices)
    finally:
        await admin.execute("SELECT pg_stat_statements_reset()")
        await admin.close()
        await engine.close()
