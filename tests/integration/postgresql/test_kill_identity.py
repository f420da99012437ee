"""A kill sends its signal only to the session the user confirmed (issue 11, item 2): the
pid and backend_start (and, for a cancel, the statement's query_start) are checked in the
statement that signals, against the real servers; a pid really reused by a new backend
(``/proc/sys/kernel/ns_last_pid``, as root) is refused; the CLI passes what it showed."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

import dbtop.cli.kill as cli_kill
from dbtop.cli import main as dbtop_main
from dbtop.errors import RefusedError
from dbtop.model import KillMode, Session

from .conftest import eventually

pytestmark = pytest.mark.timeout(120)

NS_LAST_PID = Path("/proc/sys/kernel/ns_last_pid")
SLEEP = "SELECT pg_sleep(60)"


async def _confirmed(engine, pid: int) -> Session:
    """The session as a confirmation would show it: from a snapshot, running its query."""

    async def running() -> Session | None:
        found = (await engine.snapshot()).session(str(pid))
        return found if found is not None and found.state == "active" else None

    session = await eventually(running, what=f"session {pid} running its query")
    assert isinstance(session, Session)
    return session


async def _sleeper(clients, app: str) -> tuple[asyncpg.Connection, int, asyncio.Task]:
    conn = await clients.connect(app)
    pid = conn.get_server_pid()
    return conn, pid, clients.start(conn, SLEEP)


async def test_a_different_backend_start_is_refused_and_nothing_is_sent(engine, clients):
    conn, pid, task = await _sleeper(clients, "dbtop-kill-identity")
    seen = await _confirmed(engine, pid)
    assert seen.backend_start is not None
    older = dataclasses.replace(seen, backend_start=seen.backend_start - timedelta(minutes=5))
    for mode in (KillMode.CANCEL, KillMode.TERMINATE):
        with pytest.raises(RefusedError) as refused:
            await engine.kill(str(pid), mode, expected=older)
        text = str(refused.value)
        assert f"session {pid} is no longer the one you confirmed" in text
        assert "nothing was sent" in text and "\n" not in text
    assert not task.done() and not conn.is_closed()  # neither signal reached it
    # the session as confirmed is still killed
    result = await engine.kill(str(pid), KillMode.CANCEL, expected=seen)
    assert result.ok, result.message
    with pytest.raises(asyncpg.QueryCanceledError):
        await asyncio.wait_for(task, 10)


async def test_a_cancel_after_a_new_statement_started_is_refused(engine, clients):
    _conn, pid, task = await _sleeper(clients, "dbtop-kill-newstmt")
    seen = await _confirmed(engine, pid)
    assert seen.query_start is not None
    earlier = dataclasses.replace(seen, query_start=seen.query_start - timedelta(seconds=30))
    with pytest.raises(RefusedError, match="started another statement") as refused:
        await engine.kill(str(pid), KillMode.CANCEL, expected=earlier)
    assert "nothing was sent" in str(refused.value)
    assert not task.done()
    # terminate was confirmed for the session, whatever it runs: it goes through
    result = await engine.kill(str(pid), KillMode.TERMINATE, expected=earlier)
    assert result.ok, result.message
    await eventually(lambda: task.done(), what="the terminated session's query to end")


async def test_terminate_with_the_confirmed_session_still_works(engine, clients):
    _conn, pid, task = await _sleeper(clients, "dbtop-kill-happy")
    seen = await _confirmed(engine, pid)
    result = await engine.kill(str(pid), KillMode.TERMINATE, expected=seen)
    assert result.ok and "terminated" in result.message
    await eventually(lambda: task.done(), what="the terminated session's query to end")


def _can_steer_pids() -> str | None:
    if os.geteuid() != 0:
        return "needs root to write /proc/sys/kernel/ns_last_pid"
    if not os.access(NS_LAST_PID, os.W_OK):
        return f"{NS_LAST_PID} is not writable here"
    return None


async def _backend_on_pid(clients, pid: int, app: str) -> asyncpg.Connection | None:
    """A new backend that the kernel gives ``pid`` (the postmaster forks it right after
    ns_last_pid is set); other processes on the machine may take it first: try again."""
    for _ in range(50):
        while Path(f"/proc/{pid}").exists():
            await asyncio.sleep(0.02)  # the old backend has not been reaped yet
        NS_LAST_PID.write_text(str(pid - 1))
        conn = await clients.connect(app)
        if conn.get_server_pid() == pid:
            return conn
        conn.terminate()
    return None


async def _replace(clients, conn: asyncpg.Connection, pid: int) -> asyncpg.Connection:
    # Ended by the server: a backend in pg_sleep does not notice its client leaving.
    admin = await clients.connect("dbtop-kill-admin")
    await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    conn.terminate()
    newcomer = await _backend_on_pid(clients, pid, "dbtop-kill-newcomer")
    if newcomer is None:
        pytest.skip(f"pid {pid} could not be given to a new backend (the machine is busy)")
    return newcomer


async def test_a_really_reused_pid_is_refused(engine, clients):
    why = _can_steer_pids()
    if why:
        pytest.skip(why)
    conn, pid, _ = await _sleeper(clients, "dbtop-kill-old")
    seen = await _confirmed(engine, pid)
    newcomer = await _replace(clients, conn, pid)
    task = clients.start(newcomer, SLEEP)
    await _confirmed(engine, pid)  # the newcomer runs under the same pid
    for mode in (KillMode.CANCEL, KillMode.TERMINATE):
        with pytest.raises(RefusedError, match="no longer the one you confirmed"):
            await engine.kill(str(pid), mode, expected=seen)
    assert not task.done() and not newcomer.is_closed()


def _run_cli(argv: list[str]) -> int:
    return dbtop_main(argv)


async def test_cli_kill_refuses_a_pid_reused_while_it_asked(pg_url, clients, monkeypatch):
    why = _can_steer_pids()
    if why:
        pytest.skip(why)
    conn, pid, _ = await _sleeper(clients, "dbtop-cli-old")
    loop = asyncio.get_running_loop()
    newcomers: list[tuple[asyncpg.Connection, asyncio.Task]] = []

    async def swap() -> None:
        newcomer = await _replace(clients, conn, pid)
        task = clients.start(newcomer, SLEEP)
        await eventually(lambda: _active(pg_url, pid), what="the newcomer running")
        newcomers.append((newcomer, task))

    def confirm(prompt: str) -> bool:
        # The user reads the question; meanwhile the session ends and its pid is reused.
        assert f"session {pid}" in prompt
        asyncio.run_coroutine_threadsafe(swap(), loop).result(60)
        return True

    monkeypatch.setattr(cli_kill, "confirm", confirm)
    await eventually(lambda: _active(pg_url, pid), what="the old session running")
    code = await asyncio.to_thread(_run_cli, ["kill", pg_url, str(pid)])
    assert code == 2
    newcomer, task = newcomers[0]
    assert not task.done() and not newcomer.is_closed()


async def _active(url: str, pid: int) -> bool:
    conn = await asyncpg.connect(url)
    try:
        state = await conn.fetchval("SELECT state FROM pg_stat_activity WHERE pid = $1", pid)
    finally:
        await conn.close()
    return state == "active"


async def test_cli_kill_refuses_to_cancel_a_statement_started_while_it_asked(
    pg_url, clients, monkeypatch
):
    """No root needed: the session stays, but the statement it runs is not the one shown."""
    conn, pid, first = await _sleeper(clients, "dbtop-cli-newstmt")
    loop = asyncio.get_running_loop()
    second: list[asyncio.Task] = []

    async def next_statement() -> None:
        admin = await clients.connect("dbtop-cli-admin")
        await admin.fetchval("SELECT pg_cancel_backend($1)", pid)
        with pytest.raises(asyncpg.QueryCanceledError):
            await asyncio.wait_for(first, 10)
        second.append(clients.start(conn, SLEEP))
        await eventually(lambda: _active(pg_url, pid), what="the next statement running")

    def confirm(prompt: str) -> bool:
        asyncio.run_coroutine_threadsafe(next_statement(), loop).result(30)
        return True

    monkeypatch.setattr(cli_kill, "confirm", confirm)
    await eventually(lambda: _active(pg_url, pid), what="the session running")
    code = await asyncio.to_thread(_run_cli, ["kill", pg_url, str(pid)])
    assert code == 2
    assert not second[0].done()  # the statement nobody confirmed runs on
