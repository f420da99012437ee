"""Bad input is one line and exit status 2, never a hang or a silent default; libpq's URL
parameters are honoured as libpq does (PostgreSQL 15 of the session)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from urllib.parse import quote, urlsplit

import asyncpg
import pytest

from tests.ptyrun import run_with_answer

from .conftest import Run, dbtop


def _one_line_refusal(run: Run) -> str:
    assert run.code == 2, (run.code, run.err)
    assert run.err.startswith("dbtop: ") and run.err.count("\n") == 1, run.err
    assert "Traceback" not in run.err
    return run.err


@pytest.mark.parametrize(
    "args",
    [
        ["--interval", "nan"],
        ["--interval", "-1"],
        ["--interval", "1e9"],
        ["snapshot", "--interval", "nan"],
        ["snapshot", "--interval", "1e9"],
        ["snapshot", "--interval", "-1"],
        ["--statement-timeout", "1e-9", "snapshot"],
    ],
)
def test_bad_numbers_are_refused_not_hung(args: list[str], pg_url: str) -> None:
    # A hang fails through the timeout; the UI never opens (no terminal here).
    _one_line_refusal(dbtop(*args, pg_url, timeout=30))


def test_kill_with_no_id_says_so_and_not_about_postgresql() -> None:
    err = _one_line_refusal(dbtop("kill", "mysql://root@127.0.0.1:3306/test", timeout=30))
    assert "id is missing" in err and "PostgreSQL" not in err


def _socket_dir(url: str) -> str:
    async def ask() -> str:
        conn = await asyncpg.connect(url)
        try:
            return str(await conn.fetchval("SHOW unix_socket_directories")).split(",")[0].strip()
        finally:
            await conn.close()

    return asyncio.run(ask())


def _client_is_the_socket(run: Run) -> bool:
    own = [s for s in run.json()["sessions"] if s.get("is_self")]
    return bool(own) and all(not s.get("client") or "socket" in str(s.get("client")) for s in own)


def test_host_in_the_query_is_the_socket_directory(pg_url: str) -> None:
    socket_dir = _socket_dir(pg_url)
    if not socket_dir or not Path(socket_dir).is_dir():
        pytest.skip(f"the server has no socket directory here: {socket_dir!r}")
    port = urlsplit(pg_url).port
    user = urlsplit(pg_url).username or "postgres"
    for url in (
        f"postgresql://{user}@/test?host={quote(socket_dir)}&port={port}",
        # libpq: the query's host and port override the ones before the path
        f"postgresql://{user}@127.0.0.1:1/test?host={quote(socket_dir)}&port={port}",
    ):
        run = dbtop("snapshot", "--json", "--interval", "0", url, timeout=60)
        assert run.code == 0, (url, run.err)
        assert run.json()["engine"] == "postgresql"


def test_libpq_connect_timeout_is_accepted(pg_url: str) -> None:
    sep = "&" if "?" in pg_url else "?"
    run = dbtop("snapshot", "--json", "--interval", "0", f"{pg_url}{sep}connect_timeout=10")
    assert run.code == 0, run.err


def test_libpq_options_are_passed_on(pg_url: str) -> None:
    sep = "&" if "?" in pg_url else "?"
    run = dbtop(
        "snapshot", "--json", "--interval", "0", f"{pg_url}{sep}options=-c%20work_mem%3D7MB"
    )
    assert run.code == 0, run.err


@pytest.mark.parametrize(
    ("suffix", "says"), [("bogus=1", "bogus"), ("application_name=x", "application_name")]
)
def test_unknown_libpq_parameters_are_refused(pg_url: str, suffix: str, says: str) -> None:
    sep = "&" if "?" in pg_url else "?"
    err = _one_line_refusal(dbtop("snapshot", "--interval", "0", f"{pg_url}{sep}{suffix}"))
    assert says in err


def test_pgpass_is_read(pg_url: str, tmp_path: Path) -> None:
    """asyncpg reads the password file as libpq does (PGPASSFILE, else ~/.pgpass)."""
    parts = urlsplit(pg_url)
    if "PGPASSWORD" in os.environ:
        pytest.skip("PGPASSWORD is set: it would be used before the password file")

    _password_role(pg_url)
    url = f"postgresql://dbtop_it_pw@{parts.hostname}:{parts.port}/test"
    without = dbtop(
        "snapshot", "--json", "--interval", "0", url, env={"PGPASSFILE": "/nonexistent"}
    )
    if without.code == 0:
        pytest.skip("this server lets dbtop_it_pw in without a password")
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"{parts.hostname}:{parts.port}:*:dbtop_it_pw:right\n")
    os.chmod(passfile, 0o600)
    run = dbtop("snapshot", "--json", "--interval", "0", url, env={"PGPASSFILE": str(passfile)})
    assert run.code == 0, run.err


def _password_role(pg_url: str) -> None:
    async def role() -> None:
        conn = await asyncpg.connect(pg_url)
        try:
            if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = 'dbtop_it_pw'"):
                await conn.execute("CREATE ROLE dbtop_it_pw LOGIN PASSWORD 'right'")
        finally:
            await conn.close()

    asyncio.run(role())


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")
def test_password_prompt_for_postgresql(pg_url: str) -> None:
    parts = urlsplit(pg_url)
    if "PGPASSWORD" in os.environ:
        pytest.skip("PGPASSWORD is set")
    _password_role(pg_url)
    url = f"postgresql://dbtop_it_pw@{parts.hostname}:{parts.port}/test"
    run = run_with_answer(
        ["-W", "snapshot", "--json", "--interval", "0", url],
        "right",
        env={"PGPASSFILE": "/nonexistent", "DBTOP_PASSWORD": ""},
    )
    assert run.code == 0, run.output
    assert run.cmdlines and all(b"right" not in c for c in run.cmdlines)
    assert "right" not in run.output.partition("{")[0]  # not echoed at the prompt
