"""Sessions and the lock graph against the real servers."""

from __future__ import annotations

import pytest

from dbtop.analysis.lockgraph import build_lock_forest

from .conftest import eventually

pytestmark = pytest.mark.timeout(90)


async def _table(clients, name: str) -> None:
    setup = await clients.connect("dbtop-test-setup")
    await setup.execute(f"DROP TABLE IF EXISTS {name}")
    await setup.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, v int)")
    await setup.execute(f"INSERT INTO {name} SELECT g, 0 FROM generate_series(1, 10) g")


async def test_own_session_is_marked_and_listed(engine):
    snap = await engine.snapshot()
    mine = [s for s in snap.sessions if s.is_self]
    assert len(mine) == 1
    assert mine[0].application == "dbtop"
    assert mine[0].id in {str(p) for p in snap.extra["own_pids"]}
    assert snap.server.version.startswith("PostgreSQL")
    assert snap.server.max_connections and snap.server.connections >= 1
    assert snap.server.role == "primary"
    assert "transactions" in snap.server.counters


async def test_idle_in_transaction_session_with_its_age_and_xmin(engine, clients):
    conn = await clients.connect("dbtop-test-idlex")
    await conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
    await conn.execute("SELECT txid_current()")
    pid = str(conn.get_server_pid())

    async def seen():
        snap = await engine.snapshot()
        return snap.session(pid)

    session = await eventually(seen)
    assert session.state == "idle in transaction"
    assert session.in_transaction and not session.is_idle
    assert session.xact_age_s is not None and session.xact_age_s >= 0
    assert session.extra["backend_xid"]
    assert session.extra["backend_xmin"]
    assert session.application == "dbtop-test-idlex"


async def test_three_deep_lock_chain_gives_the_right_edges_and_root(engine, clients):
    await _table(clients, "dbtop_it_chain")
    a = await clients.connect("dbtop-test-a")
    b = await clients.connect("dbtop-test-b")
    c = await clients.connect("dbtop-test-c")
    await a.execute("BEGIN")
    await a.execute("UPDATE dbtop_it_chain SET v = 1 WHERE id = 1")
    clients.start(b, "UPDATE dbtop_it_chain SET v = 2 WHERE id = 1")
    # c must queue behind b, not beside it: wait until b waits on a's lock
    watcher = await clients.connect("dbtop-test-watcher")

    async def b_waits() -> bool:
        query = "SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1"
        return await watcher.fetchval(query, b.get_server_pid()) == "Lock"

    await eventually(b_waits)
    clients.start(c, "SELECT * FROM dbtop_it_chain WHERE id = 1 FOR UPDATE")
    pa, pb, pc = (str(x.get_server_pid()) for x in (a, b, c))

    async def chain():
        snap = await engine.snapshot()
        edges = {(e.waiter, e.blocker) for e in snap.lock_waits}
        return snap if {(pb, pa), (pc, pb)} <= edges else None

    snap = await eventually(chain)
    forest = build_lock_forest(snap.lock_waits)
    assert pa in forest.root_ids
    assert forest.max_depth >= 2
    by_waiter = {e.waiter: e for e in snap.lock_waits}
    assert by_waiter[pb].lock_type == "transactionid"
    assert by_waiter[pb].mode == "ShareLock"
    assert by_waiter[pb].held_mode == "ExclusiveLock"
    assert "dbtop_it_chain" in (by_waiter[pc].object or "")
    assert by_waiter[pb].wait_s is not None and by_waiter[pb].wait_s >= 0
    assert snap.session(pb).blocked_by == (pa,)
    assert snap.session(pb).waiting_on_lock


async def test_several_blockers_of_one_waiter(engine, clients):
    await _table(clients, "dbtop_it_multi")
    h1 = await clients.connect("dbtop-test-h1")
    h2 = await clients.connect("dbtop-test-h2")
    w = await clients.connect("dbtop-test-w")
    for conn, row in ((h1, 1), (h2, 2)):
        await conn.execute("BEGIN")
        await conn.execute(f"UPDATE dbtop_it_multi SET v = 9 WHERE id = {row}")
    clients.start(w, "BEGIN; LOCK TABLE dbtop_it_multi IN ACCESS EXCLUSIVE MODE")
    p1, p2, pw = (str(x.get_server_pid()) for x in (h1, h2, w))

    async def both():
        snap = await engine.snapshot()
        session = snap.session(pw)
        return snap if session and set(session.blocked_by) == {p1, p2} else None

    snap = await eventually(both)
    edges = [e for e in snap.lock_waits if e.waiter == pw]
    assert {e.blocker for e in edges} == {p1, p2}
    assert all(e.mode == "AccessExclusiveLock" for e in edges)
    assert all(e.held_mode == "RowExclusiveLock" for e in edges)
    assert all(e.object and e.object.endswith("dbtop_it_multi") for e in edges)
    forest = build_lock_forest(snap.lock_waits)
    assert set(forest.root_ids) >= {p1, p2}


async def test_idle_sessions_are_reread_every_few_seconds_on_a_busy_server(
    engine, clients, monkeypatch
):
    from dbtop.engines.postgresql import sessions as pg_sessions

    # as on a server with thousands of connections: the cache is used from the first poll
    monkeypatch.setattr(pg_sessions, "IDLE_CACHE_FROM", 0)
    monkeypatch.setattr(pg_sessions, "IDLE_REFRESH_S", 4.0)
    old = await clients.connect("dbtop-test-idle-old")
    first = await engine.snapshot()  # full read
    assert first.session(str(old.get_server_pid())).state == "idle"
    busy = await clients.connect("dbtop-test-busy")
    clients.start(busy, "SELECT pg_sleep(20)")
    new_idle = await clients.connect("dbtop-test-idle-new")

    async def busy_seen():
        snap = await engine.snapshot()
        return snap if snap.session(str(busy.get_server_pid())) else None

    snap = await eventually(busy_seen, timeout=2.5)
    assert engine._idle.partial_reads >= 1
    assert snap.session(str(old.get_server_pid())) is not None, "kept from the last full read"
    assert snap.session(str(new_idle.get_server_pid())) is None, "not read yet"

    async def refreshed():
        snap = await engine.snapshot()
        return snap.session(str(new_idle.get_server_pid()))

    assert (await eventually(refreshed, timeout=10)).state == "idle"
