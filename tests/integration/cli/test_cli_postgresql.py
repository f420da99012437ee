"""The one-shot CLI end to end against the real PostgreSQL: JSON keys, kill, explain, and
one clear line (exit 2, no traceback) for every kind of bad input."""

from __future__ import annotations

import asyncio
import socket
from urllib.parse import urlsplit

import asyncpg
import pytest

from tests.waiting import wait_until

from .conftest import dbtop

pytestmark = pytest.mark.timeout(90)


def assert_one_clear_line(run, *needles: str) -> None:
    assert run.code == 2, (run.code, run.out, run.err)
    lines = [line for line in run.err.splitlines() if line.strip()]
    assert len(lines) == 1, run.err
    assert lines[0].startswith("dbtop: ")
    assert "Traceback" not in run.err
    for needle in needles:
        assert needle.lower() in lines[0].lower(), lines[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_version():
    run = dbtop("--version")
    assert run.code == 0 and run.out.startswith("dbtop ")


def test_snapshot_json_has_the_documented_keys(pg_url):
    run = dbtop("snapshot", pg_url, "--json", "--interval", "0.3")
    assert run.code == 0, run.err
    doc = run.json()
    for key in (
        "engine",
        "server",
        "sessions",
        "statements",
        "indexes",
        "lock_waits",
        "lock_roots",
        "rates",
        "capabilities",
        "findings",
        "notices",
    ):
        assert key in doc, key
    assert doc["engine"] == "postgresql"
    assert doc["rates"] is not None and doc["rates"]["interval_s"] > 0.2
    me = [s for s in doc["sessions"] if s["is_self"]]
    assert me, "dbtop's own session is listed and marked"
    for session in doc["sessions"]:
        assert isinstance(session["id"], str)
        for key in ("user", "database", "state", "query", "duration_s", "wait", "blocked_by"):
            assert key in session
        assert isinstance(session["blocked_by"], list)
    for stmt in doc["statements"][:5]:
        for key in ("id", "query", "calls", "total_ms", "mean_ms", "rows"):
            assert key in stmt
    for index in doc["indexes"][:5]:
        for key in (
            "schema",
            "table",
            "name",
            "scans",
            "size_bytes",
            "unused",
            "duplicate_of",
            "valid",
        ):
            assert key in index


def test_snapshot_human_output_shows_the_summary_and_sessions(pg_url):
    run = dbtop("snapshot", pg_url, "--interval", "0")
    assert run.code == 0, run.err
    assert "postgresql" in run.out
    assert "Sessions" in run.out


async def _sleeper(pg_url: str, name: str) -> tuple[asyncpg.Connection, int, asyncio.Task]:
    conn = await asyncpg.connect(pg_url, server_settings={"application_name": name})
    pid = conn.get_server_pid()
    task = asyncio.ensure_future(conn.execute("select pg_sleep(60)"))
    admin = await asyncpg.connect(pg_url)
    try:

        async def active() -> bool:
            query = "select state from pg_stat_activity where pid = $1"
            return await admin.fetchval(query, pid) == "active"

        await wait_until(active, what=f"backend {pid} ({name}) running its pg_sleep")
    finally:
        await admin.close()
    return conn, pid, task


async def test_kill_cancels_a_query_and_terminates_a_session(pg_url):
    conn, pid, task = await _sleeper(pg_url, "dbtop-cli-cancel")
    run = await asyncio.to_thread(dbtop, "kill", pg_url, str(pid), "--yes")
    assert run.code == 0, (run.out, run.err)
    with pytest.raises(asyncpg.QueryCanceledError):
        await asyncio.wait_for(task, 10)
    assert not conn.is_closed()  # cancel keeps the session
    await conn.close()

    conn, pid, task = await _sleeper(pg_url, "dbtop-cli-terminate")
    run = await asyncio.to_thread(dbtop, "kill", pg_url, str(pid), "--terminate", "--yes")
    assert run.code == 0, (run.out, run.err)
    with pytest.raises(
        (
            asyncpg.exceptions.AdminShutdownError,
            asyncpg.ConnectionDoesNotExistError,
            ConnectionError,
        )
    ):
        await asyncio.wait_for(task, 10)
    conn.terminate()


async def test_kill_without_yes_and_no_terminal_asks_for_yes(pg_url):
    conn, pid, task = await _sleeper(pg_url, "dbtop-cli-noyes")
    try:
        run = await asyncio.to_thread(dbtop, "kill", pg_url, str(pid), stdin="")
        assert_one_clear_line(run, "--yes")
        assert not task.done()  # nothing was done
    finally:
        task.cancel()
        conn.terminate()


def test_kill_is_refused_in_read_only_mode(pg_url):
    run = dbtop("--read-only", "kill", pg_url, "12345", "--yes")
    assert_one_clear_line(run, "read-only")


def test_kill_of_a_session_that_does_not_exist(pg_url):
    run = dbtop("kill", pg_url, "999999", "--yes")
    assert_one_clear_line(run, "999999")


def test_explain_query_json_and_human(pg_url):
    run = dbtop("explain", pg_url, "--query", "select * from pg_class where oid = $1", "--json")
    assert run.code == 0, run.err
    doc = run.json()
    assert doc["tree"]["name"]
    assert doc["analyzed"] is False
    human = dbtop("explain", pg_url, "--query", "select count(*) from pg_class")
    assert human.code == 0, human.err
    assert "Aggregate" in human.out


def test_explain_invalid_sql(pg_url):
    assert_one_clear_line(dbtop("explain", pg_url, "--query", "selec nothing"), "syntax")


@pytest.mark.parametrize(
    ("url", "needles"),
    [
        ("postgresql://", ()),
        ("not a url", ("URL",)),
        ("ftp://host/x", ("scheme",)),
        ("postgresql://u@127.0.0.1:notaport/db", ()),
        ("postgresql://postgres@no-such-host.invalid/test", ("no-such-host.invalid",)),
        ("postgresql://postgres@127.0.0.1:{port}/test", ("127.0.0.1",)),
        # {server}: host and port of the session's PostgreSQL 15
        ("postgresql://postgres@{server}/no_such_database_dbtop", ("no_such_database_dbtop",)),
    ],
)
def test_bad_input_gets_one_clear_line(url, needles, request):
    server = ""
    if "{server}" in url:
        server = urlsplit(request.getfixturevalue("pg_url")).netloc.rsplit("@", 1)[-1]
    url = url.format(port=free_port(), server=server)
    if url == "postgresql://":
        # libpq's defaults (PG* variables, else the local socket and the OS user), pointed at
        # the session's server rather than whatever this machine runs: it works, no trace
        admin = urlsplit(request.getfixturevalue("pg_url"))
        env = {
            "PGHOST": admin.hostname or "",
            "PGPORT": str(admin.port or 5432),
            "PGUSER": admin.username or "",
            "PGDATABASE": admin.path.lstrip("/"),
        }
        run = dbtop("snapshot", url, "--json", "--connect-timeout", "3", env=env)
        assert "Traceback" not in run.err
        return
    run = dbtop("snapshot", url, "--json", "--connect-timeout", "3")
    assert_one_clear_line(run, *needles)


def test_password_never_appears_in_an_error():
    port = free_port()
    run = dbtop(
        "snapshot",
        f"postgresql://postgres:s3cretpw@127.0.0.1:{port}/test",
        "--connect-timeout",
        "2",
    )
    assert_one_clear_line(run)
    assert "s3cretpw" not in run.err + run.out


def test_explain_needs_a_query_or_a_session(pg_url):
    run = dbtop("explain", pg_url)
    assert run.code == 2
    assert "Traceback" not in run.err
