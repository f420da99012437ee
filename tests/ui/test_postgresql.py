"""End to end against a real PostgreSQL (the session's PostgreSQL 15, private to the tests:
tests/servers/postgres.py; database ``dbtop_ui``):

- a three-deep lock chain shows in the Locks pane, and cancelling the root blocker with
  ``k`` + ``y`` releases the whole chain;
- ``dbtop URL`` in a real terminal (a pty): it draws, and when the terminal goes away
  (SIGHUP, the pty closing, SIGTERM) it exits within seconds and its connection leaves the
  server; a first connection that fails prints one line and exits with status 2.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import psutil
import pytest

from dbtop.engines.base import ConnectOptions
from dbtop.engines.registry import create_engine
from dbtop.ui.app import AppSettings, DbtopApp
from dbtop.ui.screens.confirm import ConfirmScreen
from dbtop.ui.widgets.rowtable import RowTable
from tests.waiting import wait_until, wait_until_sync

DATABASE = "dbtop_ui"
ROOT = Path(__file__).resolve().parents[2]


async def _create_database(admin_url: str) -> None:
    conn = await asyncpg.connect(admin_url, timeout=10)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE):
            await conn.execute(f"CREATE DATABASE {DATABASE}")
    except asyncpg.DuplicateDatabaseError:
        pass
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def pg(pg15_admin_url: str) -> str:
    """``dbtop_ui`` on the session's PostgreSQL 15."""
    asyncio.run(_create_database(pg15_admin_url))
    return pg15_admin_url.rsplit("/", 1)[0] + f"/{DATABASE}"


@contextlib.asynccontextmanager
async def lock_chain(url: str) -> AsyncIterator[dict[str, object]]:
    """root holds a row lock in a running statement; middle waits on it; leaf on middle."""
    setup = await asyncpg.connect(url)
    await setup.execute(
        "DROP TABLE IF EXISTS dbtop_ui_e2e;"
        "CREATE TABLE dbtop_ui_e2e (id int PRIMARY KEY, v int NOT NULL);"
        "INSERT INTO dbtop_ui_e2e VALUES (1, 0)"
    )
    names = ("root", "middle", "leaf")
    conns = {
        name: await asyncpg.connect(
            url, server_settings={"application_name": f"dbtop-ui-e2e-{name}"}
        )
        for name in names
    }
    pids = {name: conn.get_server_pid() for name, conn in conns.items()}
    # One simple-protocol string: an implicit transaction that holds the row lock while
    # it sleeps; cancelling the sleep rolls it back and frees the row.
    root = asyncio.create_task(
        conns["root"].execute(
            "UPDATE dbtop_ui_e2e SET v = v + 1 WHERE id = 1; SELECT pg_sleep(120)"
        )
    )
    await _wait_state(setup, pids["root"], "Timeout")
    middle = asyncio.create_task(
        conns["middle"].execute("UPDATE dbtop_ui_e2e SET v = 10 WHERE id = 1")
    )
    await _wait_state(setup, pids["middle"], "Lock")
    leaf = asyncio.create_task(conns["leaf"].execute("UPDATE dbtop_ui_e2e SET v = 20 WHERE id = 1"))
    await _wait_state(setup, pids["leaf"], "Lock")
    try:
        yield {"pids": pids, "tasks": {"root": root, "middle": middle, "leaf": leaf}}
    finally:
        for task in (root, middle, leaf):
            task.cancel()
        for conn in conns.values():
            conn.terminate()
        await setup.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE"
            " 'dbtop-ui-e2e-%'"
        )
        await setup.close()


async def _wait_state(conn: asyncpg.Connection, pid: int, wait_type: str) -> None:
    async def waiting() -> bool:
        query = "SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1"
        return await conn.fetchval(query, pid) == wait_type

    await wait_until(waiting, what=f"backend {pid} waiting on {wait_type}")


@pytest.mark.postgresql
async def test_cancelling_the_root_blocker_releases_the_chain(pg: str):
    async with lock_chain(pg) as chain:
        pids = {k: str(v) for k, v in chain["pids"].items()}
        tasks = chain["tasks"]
        options = ConnectOptions()
        app = DbtopApp(
            lambda: create_engine(pg, options),
            AppSettings(interval_s=0.5),
            handle_signals=False,
        )
        async with app.run_test(size=(160, 40)) as pilot:
            await pilot.press("4")
            # Other sessions on the shared server may have chains of their own: find ours.
            root_key = pids["root"]
            await wait_until(
                lambda: {f"{root_key}/{pids['middle']}"} <= set(_lock_keys(app)),
                timeout=15,
                what="the lock chain in the Locks pane",
            )
            locks = app.main_screen.query_one("#locks-table", RowTable)
            assert locks.move_cursor_to(root_key), "the root blocker is a root of the tree"
            row = locks.row(root_key)
            assert row.kind == "alarm" and "▲2" in row.cells[0]
            assert {pids["middle"], pids["leaf"]} <= set(_lock_rows(app))
            await pilot.press("k")
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("y")
            await asyncio.wait_for(asyncio.gather(tasks["middle"], tasks["leaf"]), 15)
            with pytest.raises(asyncpg.QueryCanceledError):
                await asyncio.wait_for(tasks["root"], 5)
            await wait_until(
                lambda: root_key not in _lock_rows(app),
                timeout=15,
                what="the cancelled root blocker gone from the Locks pane",
            )
            await pilot.press("q")


def _lock_keys(app: DbtopApp) -> list[str]:
    if app.main_screen is None:
        return []
    return app.main_screen.query_one("#locks-table", RowTable).ordered_keys


def _lock_rows(app: DbtopApp) -> list[str]:
    if app.main_screen is None:
        return []
    table = app.main_screen.query_one("#locks-table", RowTable)
    return [key.rsplit("/", 1)[-1] for key in table.ordered_keys]


# -- the real command in a real terminal -------------------------------------------------


class Terminal:
    """``python -m dbtop.cli ARGS`` on the slave side of a pty, as its controlling tty."""

    def __init__(self, *args: str, size: tuple[int, int] = (100, 30)) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
        env = {**os.environ, "TERM": "xterm", "COLORTERM": "", "TEXTUAL_ANIMATIONS": "none"}
        env.pop("NO_COLOR", None)

        def controlling_tty() -> None:
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dbtop.cli", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=ROOT,
            start_new_session=True,
            preexec_fn=controlling_tty,
        )
        os.close(slave)
        self.output = b""

    def read_until(self, needle: bytes, seconds: float = 20.0) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:
                    return needle in self.output
                if not chunk:
                    break
                self.output += chunk
                if needle in self.output:
                    return True
            elif self.proc.poll() is not None:
                break
        return needle in self.output

    def wait(self, seconds: float = 10.0) -> int | None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            # Keep draining: a full pty buffer would block the child's last writes.
            with contextlib.suppress(OSError):
                ready, _, _ = select.select([self.master], [], [], 0.05)
                if ready:
                    self.output += os.read(self.master, 65536)
            code = self.proc.poll()
            if code is not None:
                return code
        return None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.master)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture
def terminal() -> Iterator[list[Terminal]]:
    opened: list[Terminal] = []
    yield opened
    for term in opened:
        term.close()


def backend_ports(pid: int, server_port: int) -> set[int]:
    """Local ports of the process's TCP connections to the server."""
    try:
        connections = psutil.Process(pid).net_connections(kind="tcp")
    except psutil.Error:
        return set()
    return {c.laddr.port for c in connections if c.raddr and c.raddr.port == server_port}


async def server_sees(url: str, ports: set[int]) -> set[int]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT client_port FROM pg_stat_activity WHERE client_port = ANY($1::int[])",
            list(ports),
        )
    finally:
        await conn.close()
    return {r["client_port"] for r in rows}


def _start(terminal: list[Terminal], pg: str) -> tuple[Terminal, set[int]]:
    term = Terminal(pg, "--interval", "0.5")
    terminal.append(term)
    assert term.read_until(b"live"), term.output[-2000:]
    server_port = urlsplit(pg).port or 5432
    ports = wait_until_sync(
        lambda: backend_ports(term.proc.pid, server_port),
        what="dbtop holding a connection to the server",
    )
    assert asyncio.run(server_sees(pg, ports)) == ports
    return term, ports


def _gone(pg: str, ports: set[int]) -> bool:
    wait_until_sync(
        lambda: not asyncio.run(server_sees(pg, ports)),
        what="the server no longer seeing dbtop's connection",
    )
    return True


@pytest.mark.postgresql
@pytest.mark.parametrize("how", ["sighup", "pty_closed", "sigterm"])
def test_dbtop_leaves_when_the_terminal_goes(pg: str, terminal: list[Terminal], how: str):
    term, ports = _start(terminal, pg)
    if how == "sighup":
        term.proc.send_signal(signal.SIGHUP)
    elif how == "sigterm":
        term.proc.send_signal(signal.SIGTERM)
    else:
        os.close(term.master)  # what sshd does when the connection drops
        term.master = os.open(os.devnull, os.O_RDONLY)
    code = term.wait(10)
    assert code is not None, "dbtop is still running after its terminal went away"
    assert code == 128 + (signal.SIGTERM if how == "sigterm" else signal.SIGHUP)
    assert _gone(pg, ports), "the server still sees dbtop's connection"


def test_a_first_connection_that_fails_is_one_line_and_status_2(terminal: list[Terminal]):
    term = Terminal("postgresql://postgres@127.0.0.1:1/nothing", "--connect-timeout", "2")
    terminal.append(term)
    code = term.wait(20)
    assert code == 2
    text = term.output.decode("utf-8", "replace")
    assert "dbtop: " in text and "127.0.0.1:1" in text


def test_an_unknown_theme_is_refused_before_the_screen_opens():
    proc = subprocess.run(
        [sys.executable, "-m", "dbtop.cli", "--theme", "nope", "postgresql://x@127.0.0.1/db"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("dbtop: unknown theme 'nope'")
