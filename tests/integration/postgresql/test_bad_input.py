"""One clear line for what users get wrong, and no crash on what servers hold."""

from __future__ import annotations

import asyncio
import os
import subprocess

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
        ("postgresql://postgres@127.0.0.1:5432/dbtop_no_such_db", NotFoundError),
        ("postgresql://dbtop_no_such_role@127.0.0.1:5432/test", AuthError),
    ],
)
async def test_connect_failures_are_one_line_errors(url, error):
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


async def test_query_text_that_is_not_utf8_does_not_break_the_poll(pg15_url):
    admin = await asyncpg.connect(pg15_url)
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = 'dbtop_it_ascii'"):
            await admin.execute(
                "CREATE DATABASE dbtop_it_ascii ENCODING 'SQL_ASCII' TEMPLATE template0 "
                "LC_COLLATE 'C' LC_CTYPE 'C'"
            )
    finally:
        await admin.close()
    # psql passes the bytes through: a SQL_ASCII database stores them unchecked
    url = pg15_url.replace("/dbtop_pg_it", "/dbtop_it_ascii")
    app = f"dbtop-test-latin1-{os.getpid()}"
    proc = subprocess.Popen(
        ["psql", url, "-q", "-c", b"SELECT pg_sleep(8) /* caf\xe9 */"],
        env={**os.environ, "PGCLIENTENCODING": "LATIN1", "PGAPPNAME": app},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
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
