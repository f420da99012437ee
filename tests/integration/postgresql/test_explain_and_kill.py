"""Explain that never writes, and kill that reports its effect, against the real servers."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from dbtop.analysis.plans import costliest
from dbtop.engines.base import ConnectOptions
from dbtop.engines.postgresql import PostgresEngine
from dbtop.errors import NotFoundError, QueryError, RefusedError, UsageError
from dbtop.model import Feature, KillMode

from .conftest import eventually

pytestmark = pytest.mark.timeout(90)


async def _fresh_table(clients, name: str) -> asyncpg.Connection:
    conn = await clients.connect("dbtop-test-explain")
    await conn.execute(f"DROP TABLE IF EXISTS {name}")
    await conn.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, v int)")
    await conn.execute(f"INSERT INTO {name} SELECT g, g FROM generate_series(1, 100) g")
    return conn


async def test_explain_a_query_gives_a_plan_tree(engine):
    plan = await engine.explain(query="SELECT count(*) FROM pg_class")
    assert plan.root.name.startswith("Aggregate")
    assert plan.root.total_cost and plan.root.total_cost > 0
    assert not plan.analyzed and not plan.generic
    assert isinstance(plan.raw, list) and "Plan" in plan.raw[0]
    assert costliest(plan.root) in plan.root.walk()


async def test_explain_never_executes_a_write(engine, clients, sequence):
    conn = await _fresh_table(clients, "dbtop_it_nowrite")
    plan = await engine.explain(query="DELETE FROM dbtop_it_nowrite")
    assert plan.root.name.startswith("Delete")
    assert await conn.fetchval("SELECT count(*) FROM dbtop_it_nowrite") == 100
    with pytest.raises(RefusedError, match="DELETE"):
        await engine.explain(query="DELETE FROM dbtop_it_nowrite", analyze=True)
    with pytest.raises(RefusedError):
        await engine.explain(
            query="WITH d AS (DELETE FROM dbtop_it_nowrite RETURNING *) SELECT * FROM d",
            analyze=True,
        )
    with pytest.raises(RefusedError, match="FOR UPDATE"):
        await engine.explain(query="SELECT * FROM dbtop_it_nowrite FOR UPDATE", analyze=True)
    with pytest.raises(QueryError, match="one statement"):
        await engine.explain(query="SELECT 1; DELETE FROM dbtop_it_nowrite")
    # a function with a side effect in a SELECT: refused before anything runs
    with pytest.raises(RefusedError, match="nextval"):
        await engine.explain(query="SELECT nextval('dbtop_it_seq_for_explain')", analyze=True)
    assert await conn.fetchval("SELECT count(*) FROM dbtop_it_nowrite") == 100


@pytest.fixture
async def sequence(clients):
    conn = await clients.connect("dbtop-test-seq")
    await conn.execute("CREATE SEQUENCE IF NOT EXISTS dbtop_it_seq_for_explain")


async def test_explain_analyze_of_a_read(engine, clients):
    await _fresh_table(clients, "dbtop_it_analyze")
    plan = await engine.explain(query="SELECT * FROM dbtop_it_analyze WHERE v > 10", analyze=True)
    assert plan.analyzed
    assert plan.root.actual_rows == 90
    assert any("execution time" in n for n in plan.notes)


async def test_parameterized_text_gets_a_generic_plan(engine, clients):
    await _fresh_table(clients, "dbtop_it_generic")
    plan = await engine.explain(query="SELECT * FROM dbtop_it_generic WHERE id = $1 AND v > $2")
    assert plan.generic
    names = [n.name for n in plan.root.walk()]
    assert any("dbtop_it_generic" in n for n in names)
    if engine.server_version_num >= 160000:
        assert any("GENERIC_PLAN" in n for n in plan.notes)
    else:
        assert any("PREPARE" in n for n in plan.notes)
    with pytest.raises(RefusedError, match="parameters"):
        await engine.explain(query="SELECT * FROM dbtop_it_generic WHERE id = $1", analyze=True)


async def test_explain_of_a_session_runs_in_its_database(engine, clients):
    conn = await clients.connect("dbtop-test-explain-session")
    pid = str(conn.get_server_pid())
    clients.start(conn, "SELECT pg_sleep(30), 'dbtop_it_session_explain'")

    async def running():
        snap = await engine.snapshot()
        s = snap.session(pid)
        return s if s and s.state == "active" else None

    await eventually(running)
    plan = await engine.explain(session_id=pid)
    assert plan.root.name == "Result"
    assert "dbtop_it_session_explain" in plan.query


async def test_explain_errors_are_one_clear_line(engine):
    with pytest.raises(QueryError, match="syntax"):
        await engine.explain(query="selec nothing")
    with pytest.raises(QueryError, match="does not exist"):
        await engine.explain(query="SELECT * FROM dbtop_no_such_table")
    with pytest.raises(NotFoundError):
        await engine.explain(session_id="999999")
    with pytest.raises(UsageError):
        await engine.explain(session_id="abc")


async def test_cancel_and_terminate_report_their_effect(engine, clients):
    conn = await clients.connect("dbtop-test-victim")
    pid = str(conn.get_server_pid())
    task = clients.start(conn, "SELECT pg_sleep(60)")

    async def active():
        s = (await engine.snapshot()).session(pid)
        return s if s and s.state == "active" else None

    await eventually(active)
    result = await engine.kill(pid, KillMode.CANCEL)
    assert result.ok, result.message
    assert "cancelled" in result.message
    with pytest.raises(asyncpg.QueryCanceledError):
        await asyncio.wait_for(task, 10)
    # idle now: a cancel has nothing to do and says so
    idle = await engine.kill(pid, KillMode.CANCEL)
    assert not idle.ok and "nothing to cancel" in idle.message
    result = await engine.kill(pid, KillMode.TERMINATE)
    assert result.ok, result.message

    async def gone():
        return (await engine.snapshot()).session(pid) is None

    await eventually(gone)


async def test_kill_refuses_own_connection_and_read_only(engine, pg_url):
    own = next(iter(engine.own_pids))
    with pytest.raises(RefusedError, match="own"):
        await engine.kill(str(own), KillMode.TERMINATE)
    with pytest.raises(NotFoundError):
        await engine.kill("999999", KillMode.CANCEL)
    read_only = PostgresEngine(pg_url, ConnectOptions(read_only=True))
    await read_only.connect()
    try:
        assert not read_only.capabilities.has(Feature.CANCEL)
        with pytest.raises(RefusedError, match="read-only"):
            await read_only.kill(str(own), KillMode.CANCEL)
    finally:
        await read_only.close()


async def test_monitor_connection_is_read_only_and_time_limited(engine):
    conn = await engine.open_connection()
    try:
        assert await conn.fetchval("SHOW default_transaction_read_only") == "on"
        assert await conn.fetchval("SHOW statement_timeout") == "2s"
        assert await conn.fetchval("SHOW lock_timeout") == "100ms"
        assert await conn.fetchval("SHOW application_name") == "dbtop"
        assert conn.get_server_pid() in engine.own_pids
    finally:
        await conn.close()
