"""The engine against the shared MariaDB (performance_schema OFF): sessions, the row-lock
chain, a metadata-lock wait, kill, explain, redundant indexes, bad input."""

from __future__ import annotations

import asyncio

import pymysql
import pytest

from dbtop.analysis.lockgraph import build_lock_forest
from dbtop.engines.base import ConnectOptions
from dbtop.engines.mysql import MySQLEngine
from dbtop.errors import (
    AuthError,
    ConnectError,
    NotFoundError,
    QueryError,
    RefusedError,
    UsageError,
)
from dbtop.model import Feature, KillMode

from .conftest import SHARED_DB, SHARED_HOST, SHARED_PORT, run, until

pytestmark = pytest.mark.timeout(60)


async def test_sessions_show_statements_and_mark_dbtop(shared_url, engine_for, clients):
    engine = await engine_for(shared_url)
    app = await clients.open(SHARED_PORT, SHARED_DB, SHARED_HOST)
    app_id = str(app.thread_id())
    clients.background(app, "SELECT SLEEP(20) AS marker_one")
    snap = await until(
        engine, lambda s: (x := s.session(app_id)) is not None and "marker_one" in (x.query or "")
    )
    mine = [s for s in snap.sessions if s.is_self]
    assert mine and all(s.id in snap.extra["own_sessions"] for s in mine)
    sleeper = snap.session(app_id)
    assert sleeper is not None and not sleeper.is_self
    assert sleeper.user == "root" and sleeper.database == SHARED_DB
    assert sleeper.kind == "Query" and not sleeper.is_idle
    assert sleeper.duration_s is not None and sleeper.duration_s >= 0
    assert snap.server.engine == "mariadb" and snap.server.version_num >= 100000
    assert snap.server.counters["Questions"] > 0
    assert snap.capabilities.has(Feature.LOCKS) and not snap.capabilities.has(Feature.STATEMENTS)
    hints = " ".join(n.hint or "" for n in snap.capabilities.notices)
    assert "performance_schema=ON" in hints and "log_output" in hints
    await engine.kill(app_id, KillMode.TERMINATE)


async def test_three_session_row_lock_chain(shared_url, engine_for, clients):
    engine = await engine_for(shared_url)
    a = await clients.open(SHARED_PORT, SHARED_DB, SHARED_HOST)
    b = await clients.open(SHARED_PORT, SHARED_DB, SHARED_HOST)
    c = await clients.open(SHARED_PORT, SHARED_DB, SHARED_HOST)
    for conn in (a, b, c):
        await run(conn, "SET SESSION innodb_lock_wait_timeout = 30")
        await run(conn, "BEGIN")
    await run(a, "UPDATE items SET v = 'a' WHERE id = 1")
    await run(b, "UPDATE items SET v = 'b' WHERE id = 2")
    b_wait = clients.background(b, "UPDATE items SET v = 'b' WHERE id = 1")
    c_wait = clients.background(c, "UPDATE items SET v = 'c' WHERE id = 2")
    ida, idb, idc = (str(x.thread_id()) for x in (a, b, c))
    snap = await until(engine, lambda s: len(s.lock_waits) >= 2)
    edges = {(w.waiter, w.blocker) for w in snap.lock_waits}
    assert edges == {(idb, ida), (idc, idb)}
    forest = build_lock_forest(snap.lock_waits)
    assert [r.session_id for r in forest.roots] == [ida]
    assert forest.blocked_count[ida] == 2
    edge = next(w for w in snap.lock_waits if w.waiter == idb)
    assert edge.lock_type == "row" and edge.mode and edge.mode.startswith("X")
    assert "items" in (edge.object or "") and "PRIMARY" in (edge.object or "")
    assert edge.extra["blocker_age_s"] is not None and edge.wait_s is not None
    waiter = snap.session(idb)
    assert waiter is not None and waiter.waiting_on_lock and waiter.blocked_by == (ida,)
    assert waiter.in_transaction and waiter.wait == "InnoDB row lock"
    holder = snap.session(ida)
    assert holder is not None and holder.in_transaction and holder.is_idle
    assert holder.extra["rows_locked"] >= 1 and holder.xact_age_s is not None
    await run(a, "ROLLBACK")
    await asyncio.wait_for(b_wait, 20)
    await run(b, "ROLLBACK")
    await asyncio.wait_for(c_wait, 20)
    await run(c, "ROLLBACK")


async def test_metadata_lock_wait_without_a_visible_holder(shared_url, engine_for, clients):
    engine = await engine_for(shared_url)
    holder = await clients.open(SHARED_PORT, SHARED_DB, SHARED_HOST)
    alter = await clients.open(SHARED_PORT, SHARED_DB, SHARED_HOST)
    await run(holder, "BEGIN")
    await run(holder, "SELECT * FROM mdl_t")
    await run(alter, "SET SESSION lock_wait_timeout = 30")
    waiting = clients.background(alter, "ALTER TABLE mdl_t ADD COLUMN extra_col INT")
    alter_id = str(alter.thread_id())

    def waits(s):
        x = s.session(alter_id)
        return x is not None and x.waiting_on_lock

    snap = await until(engine, waits)
    session = snap.session(alter_id)
    assert session is not None and "metadata lock" in (session.wait or "")
    assert any("metadata lock" in n.message and n.feature == "locks" for n in snap.notices)
    await run(holder, "ROLLBACK")
    await asyncio.wait_for(waiting, 20)
    await run(alter, "ALTER TABLE mdl_t DROP COLUMN extra_col")


async def test_kill_query_then_connection(shared_url, engine_for, clients):
    engine = await engine_for(shared_url)
    app = await clients.open(SHARED_PORT, SHARED_DB, SHARED_HOST)
    app_id = str(app.thread_id())
    sleeping = clients.background(app, "SELECT SLEEP(60)")
    await until(
        engine, lambda s: (x := s.session(app_id)) is not None and "SLEEP" in (x.query or "")
    )
    result = await engine.kill(app_id, KillMode.CANCEL)
    assert result.ok and "KILL QUERY" in result.message
    # The statement ends (MariaDB: "Query execution was interrupted"); the connection stays.
    try:
        assert (await asyncio.wait_for(sleeping, 10))[0][0] == 1
    except pymysql.err.OperationalError as exc:
        assert exc.args[0] == 1317
    assert (await run(app, "SELECT 7"))[0][0] == 7
    result = await engine.kill(app_id, KillMode.TERMINATE)
    assert result.ok and "KILL CONNECTION" in result.message
    with pytest.raises(pymysql.err.OperationalError):
        await run(app, "SELECT 1")
    gone = await engine.snapshot()
    assert gone.session(app_id) is None


async def test_kill_refusals(shared_url, engine_for):
    engine = await engine_for(shared_url)
    snap = await engine.snapshot()
    me = next(s for s in snap.sessions if s.is_self)
    with pytest.raises(RefusedError, match="own connection"):
        await engine.kill(me.id, KillMode.TERMINATE)
    with pytest.raises(NotFoundError, match="no session"):
        await engine.kill("987654321", KillMode.CANCEL)
    with pytest.raises(UsageError):
        await engine.kill("12; DROP TABLE x", KillMode.CANCEL)
    reader = await engine_for(shared_url, read_only=True)
    with pytest.raises(RefusedError, match="read-only"):
        await reader.kill("1", KillMode.CANCEL)


async def test_explain_statements(shared_url, engine_for):
    engine = await engine_for(shared_url)
    plan = await engine.explain(query="SELECT * FROM items WHERE k = 3")
    tables = [n for n in plan.root.walk() if n.extra.get("table") == "items"]
    assert tables and tables[0].extra["key"] == "k_idx" and not plan.analyzed
    plan = await engine.explain(
        query="INSERT INTO items SELECT id + 100, k, v FROM items WHERE k = 1"
    )
    assert "SELECT part" in plan.notes[0] and "`items`" in plan.query
    plan = await engine.explain(query="SELECT count(*) FROM items", analyze=True)
    assert plan.analyzed and any(n.actual_rows is not None or n.loops for n in plan.root.walk())
    with pytest.raises(RefusedError, match="reads"):
        await engine.explain(query="UPDATE items SET v = 'x' WHERE id = 1", analyze=True)
    plan = await engine.explain(query="UPDATE items SET v = 'x' WHERE id = 1")
    assert any(n.extra.get("table") == "items" for n in plan.root.walk())
    with pytest.raises(RefusedError):
        await engine.explain(query="DROP TABLE items")
    with pytest.raises(UsageError, match="one statement"):
        await engine.explain(query="SELECT 1; DROP TABLE items")
    with pytest.raises(QueryError, match="rejected"):
        await engine.explain(query="SELECT * FROM no_such_table_here")
    rows = await engine.work_fetch("SELECT v FROM items WHERE id = 1")
    assert rows[0]["v"] == "v1", "plain EXPLAIN of the UPDATE changed nothing"


async def test_explain_a_running_session(shared_url, engine_for, clients):
    engine = await engine_for(shared_url)
    app = await clients.open(SHARED_PORT, SHARED_DB, SHARED_HOST)
    app_id = str(app.thread_id())
    clients.background(app, "SELECT id, SLEEP(1) FROM items WHERE k >= 0")
    await until(
        engine, lambda s: (x := s.session(app_id)) is not None and "SLEEP" in (x.query or "")
    )
    plan = await engine.explain(session_id=app_id)
    assert "SLEEP" in plan.query
    assert any(n.extra.get("table") == "items" for n in plan.root.walk())
    await engine.kill(app_id, KillMode.TERMINATE)
    idle = await clients.open(SHARED_PORT, SHARED_DB, SHARED_HOST)
    with pytest.raises(NotFoundError):
        await engine.explain(session_id=str(idle.thread_id()))


async def test_redundant_indexes_are_flagged(shared_url, engine_for):
    engine = await engine_for(shared_url)
    snap = await engine.snapshot()
    by_name = {i.name: i for i in snap.indexes if i.table == "dupes"}
    assert by_name["a_only"].duplicate_of == "a_b"
    assert by_name["a_b"].duplicate_of == "a_b_c"
    assert by_name["a_b_c"].duplicate_of is None
    assert by_name["u_c"].duplicate_of is None and by_name["u_c"].is_unique
    assert {by_name["d_idx"].duplicate_of, by_name["d_again"].duplicate_of} == {None, "d_again"}
    assert by_name["PRIMARY"].is_primary and not by_name["PRIMARY"].unused
    # Without performance_schema or userstat, nothing is called unused.
    assert not any(i.unused for i in snap.indexes)
    drops = [f for f in snap.findings if f.kind == "duplicate_index" and "dupes" in f.object]
    assert {f.statement for f in drops} >= {
        f"ALTER TABLE `{SHARED_DB}`.`dupes` DROP INDEX `a_only`",
        f"ALTER TABLE `{SHARED_DB}`.`dupes` DROP INDEX `d_idx`",
    }
    table = next(t for t in snap.tables if t.table == "items")
    assert table.live_rows is not None and table.size_bytes


async def test_bad_input_gives_one_clear_error():
    with pytest.raises(AuthError, match="Access denied"):
        engine = MySQLEngine(
            f"mysql://root:wrong-password@{SHARED_HOST}:{SHARED_PORT}/", ConnectOptions()
        )
        await engine.connect()
    with pytest.raises(ConnectError, match="MySQL server"):
        engine = MySQLEngine("mysql://root@127.0.0.1:5432/", ConnectOptions(connect_timeout_s=1))
        await engine.connect()
    with pytest.raises(NotFoundError, match="Unknown database"):
        engine = MySQLEngine(
            f"mysql://root@{SHARED_HOST}:{SHARED_PORT}/no_such_db_x", ConnectOptions()
        )
        await engine.connect()


async def test_server_warnings_never_reach_stderr(shared_url, engine_for):
    # aiomysql turns each server warning into a Python warning (printed on stderr by the
    # CLI above its one-line error); the engine's queries must not emit any.
    import warnings

    engine = await engine_for(shared_url)
    with warnings.catch_warnings(record=True) as caught:
        rows = await engine.work_fetch("SELECT 1/0 AS x")  # the server warns: division by 0
    assert rows == [{"x": None}]
    assert [str(w.message) for w in caught] == []
