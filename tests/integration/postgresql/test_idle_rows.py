"""Full reads of pg_stat_activity that leave out what did not change: an idle row that has
not changed state since the last full read comes as its pid, wait event and state time
only, and its Session is made again from what was decoded before."""

from __future__ import annotations

import dataclasses

import pytest

from dbtop.engines.postgresql import sessions as pg_sessions
from dbtop.model import Session

from .conftest import eventually

pytestmark = pytest.mark.timeout(90)


def _without_ages(session: Session) -> Session:
    extra = {k: v for k, v in session.extra.items() if k not in ("state_age_s", "xmin_age")}
    return dataclasses.replace(session, duration_s=None, xact_age_s=None, extra=extra)


async def _plain_read(engine) -> dict[str, Session]:
    """Every row read and decoded in full, as without any cache."""
    conn = await engine._monitor()
    rows = await conn.fetch(pg_sessions.sessions_sql(engine.server_version_num))
    found = pg_sessions._sessions(rows, engine.own_pids, None, None) or ()
    return {s.id: _without_ages(s) for s in found}


async def _full_read(engine):
    engine._idle.read_at = -1e9  # the next snapshot reads idle rows again
    return await engine.snapshot()


@pytest.fixture
def cached(monkeypatch):
    # as on a server with thousands of connections: the cache is used from the first poll
    monkeypatch.setattr(pg_sessions, "IDLE_CACHE_FROM", 0)


async def test_unchanged_idle_rows_come_without_their_text_and_read_as_before(
    engine, clients, cached
):
    idle = [await clients.connect(f"dbtop-test-idle-{n}") for n in range(3)]
    for n, conn in enumerate(idle):
        await conn.execute(f"SELECT {n} /* dbtop-test idle {n} */")
    pids = {str(c.get_server_pid()) for c in idle}
    await engine.snapshot()  # the first full read: every row in full
    conn = await engine._monitor()
    since = pg_sessions.sessions_sql(engine.server_version_num, since=True)
    rows = await conn.fetch(since, engine._idle.server_now)
    left_out = {str(r["pid"]) for r in rows if not r["fresh"]}
    assert pids <= left_out
    assert all(r["query"] is None and r["now"] is None for r in rows if not r["fresh"])

    snap = await _full_read(engine)
    assert engine._idle.misses == 0
    shown = {s.id: _without_ages(s) for s in snap.sessions if s.id in pids}
    plain = await _plain_read(engine)
    assert shown == {pid: plain[pid] for pid in pids}
    for pid in pids:
        session = snap.session(pid)
        assert session.query.startswith("SELECT") and session.state == "idle"
        assert session.extra["state_age_s"] >= 0


async def test_an_idle_session_that_ran_a_statement_is_read_in_full_again(engine, clients, cached):
    conn = await clients.connect("dbtop-test-idle-again")
    await conn.execute("SELECT 1 /* dbtop-test before */")
    pid = str(conn.get_server_pid())
    first = await _full_read(engine)
    assert "before" in first.session(pid).query
    await conn.execute("SET application_name = 'dbtop-test-renamed'")
    await conn.execute("SELECT 2 /* dbtop-test after */")

    async def renamed():
        snap = await _full_read(engine)
        session = snap.session(pid)
        return session if session and "after" in (session.query or "") else None

    session = await eventually(renamed)
    assert session.application == "dbtop-test-renamed"
    assert engine._idle.misses == 0


async def test_a_left_out_row_that_does_not_match_the_cache_is_read_again_in_full(
    engine, clients, cached
):
    conn = await clients.connect("dbtop-test-idle-miss")
    await conn.execute("SELECT 1 /* dbtop-test miss */")
    pid = conn.get_server_pid()
    await _full_read(engine)
    key, fixed = engine._idle.idle_rows[pid]
    # as if the last full read had seen the row before it changed state
    engine._idle.idle_rows[pid] = ((key[0] - 1, *key[1:]), fixed)
    snap = await _full_read(engine)
    assert engine._idle.misses == 1
    assert _without_ages(snap.session(str(pid))) == (await _plain_read(engine))[str(pid)]
    assert engine._idle.idle_rows[pid][0] == key
    await _full_read(engine)
    assert engine._idle.misses == 1


async def test_a_connection_that_went_away_is_gone_at_the_next_full_read(engine, clients, cached):
    conn = await clients.connect("dbtop-test-idle-gone")
    pid = str(conn.get_server_pid())
    assert (await _full_read(engine)).session(pid) is not None
    await conn.close()

    async def gone():
        return (await _full_read(engine)).session(pid) is None

    await eventually(gone)
    assert engine._idle.misses == 0
