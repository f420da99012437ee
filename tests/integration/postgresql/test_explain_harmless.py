"""EXPLAIN ANALYZE that cannot act: every function it would run is proven non-volatile first
(a read-only transaction stops none of pg_cancel_backend, nextval or a writing function)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from dbtop.errors import RefusedError
from tests.integration.cli.conftest import dbtop

from .conftest import eventually

pytestmark = pytest.mark.timeout(90)

_SETUP = """
CREATE SCHEMA IF NOT EXISTS dbtop_hidden;
CREATE TABLE IF NOT EXISTS dbtop_it_victim (v text);
TRUNCATE dbtop_it_victim;
CREATE SEQUENCE IF NOT EXISTS dbtop_it_harmless_seq;
CREATE OR REPLACE FUNCTION dbtop_it_writes() RETURNS int LANGUAGE plpgsql VOLATILE AS
  $$ BEGIN INSERT INTO dbtop_it_victim VALUES ('written'); RETURN 1; END $$;
CREATE OR REPLACE FUNCTION dbtop_hidden.dbtop_it_hidden_writes() RETURNS int
  LANGUAGE plpgsql VOLATILE AS
  $$ BEGIN INSERT INTO public.dbtop_it_victim VALUES ('hidden'); RETURN 1; END $$;
CREATE OR REPLACE VIEW dbtop_it_acting_view AS SELECT dbtop_it_writes() AS w;
CREATE OR REPLACE VIEW dbtop_it_view_over_view AS SELECT * FROM dbtop_it_acting_view;
CREATE OR REPLACE VIEW dbtop_it_plain_view AS SELECT lower('A') AS l, now() AS t;
CREATE OR REPLACE FUNCTION dbtop_it_op_writes(int, int) RETURNS bool LANGUAGE plpgsql VOLATILE AS
  $$ BEGIN INSERT INTO dbtop_it_victim VALUES ('operator'); RETURN true; END $$;
DROP OPERATOR IF EXISTS public.=== (int, int);
CREATE OPERATOR public.=== (LEFTARG = int, RIGHTARG = int, FUNCTION = dbtop_it_op_writes);
CREATE OR REPLACE FUNCTION dbtop_it_sfunc(int, int) RETURNS int LANGUAGE plpgsql VOLATILE AS
  $$ BEGIN INSERT INTO dbtop_it_victim VALUES ('aggregate'); RETURN 1; END $$;
DROP AGGREGATE IF EXISTS dbtop_it_agg(int);
CREATE AGGREGATE dbtop_it_agg(int) (SFUNC = dbtop_it_sfunc, STYPE = int);
CREATE TABLE IF NOT EXISTS dbtop_it_guarded (v int);
ALTER TABLE dbtop_it_guarded ENABLE ROW LEVEL SECURITY;
ALTER TABLE dbtop_it_guarded FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS dbtop_it_policy ON dbtop_it_guarded;
CREATE POLICY dbtop_it_policy ON dbtop_it_guarded USING (dbtop_it_writes() = 1);
DROP DOMAIN IF EXISTS dbtop_it_dom;
CREATE DOMAIN dbtop_it_dom AS int CHECK (dbtop_it_writes() = 1);
"""


@pytest.fixture
async def setup(clients) -> asyncpg.Connection:
    conn = await clients.connect("dbtop-test-harmless")
    await conn.execute(_SETUP)
    return conn


async def _sleeper(clients) -> tuple[asyncpg.Connection, int, asyncio.Task]:
    conn = await clients.connect("dbtop-test-victim")
    pid = conn.get_server_pid()
    task = clients.start(conn, "SELECT pg_sleep(600)")
    watcher = await clients.connect("dbtop-test-watch")

    async def sleeping() -> bool:
        state = await watcher.fetchval("SELECT state FROM pg_stat_activity WHERE pid = $1", pid)
        return state == "active"

    await eventually(sleeping)
    return watcher, pid, task


async def test_analyze_refuses_to_cancel_a_backend(engine, clients):
    watcher, pid, task = await _sleeper(clients)
    for sql in (
        f"SELECT pg_cancel_backend({pid})",
        f"SELECT pg_catalog.pg_terminate_backend({pid})",
        f"SELECT * FROM (SELECT pg_cancel_backend({pid})) s",
        f"WITH c AS (SELECT pg_cancel_backend({pid}) AS x) SELECT x FROM c",
        f"SELECT 1 WHERE EXISTS (SELECT pg_cancel_backend({pid}))",
    ):
        with pytest.raises(RefusedError, match=r"pg_(cancel|terminate)_backend\(\)") as err:
            await engine.explain(query=sql, analyze=True)
        assert "\n" not in str(err.value)
    assert not task.done()
    assert await watcher.fetchval("SELECT state FROM pg_stat_activity WHERE pid = $1", pid) == (
        "active"
    )


async def test_e_on_a_session_refuses_its_acting_query(engine, clients):
    """The TUI's E on a session calls explain(session_id=…, analyze=True). The session's
    last query names the victim but did nothing for itself (its application_name differs
    from dbtop's); run by dbtop, it would cancel the victim."""
    watcher, pid, task = await _sleeper(clients)
    other = await clients.connect("dbtop-test-idle")
    app = engine.options.application_name
    await other.execute(
        f"SELECT pg_cancel_backend({pid}) WHERE current_setting('application_name') = '{app}'"
    )
    with pytest.raises(RefusedError, match=r"pg_cancel_backend\(\)"):
        await engine.explain(session_id=str(other.get_server_pid()), analyze=True)
    assert not task.done()
    assert await watcher.fetchval("SELECT state FROM pg_stat_activity WHERE pid = $1", pid) == (
        "active"
    )


async def test_analyze_refuses_nextval_and_the_sequence_is_unchanged(engine, setup):
    before = await setup.fetchval("SELECT last_value FROM dbtop_it_harmless_seq")
    called = await setup.fetchval("SELECT is_called FROM dbtop_it_harmless_seq")
    with pytest.raises(RefusedError, match=r"nextval\(\)"):
        await engine.explain(query="SELECT nextval('dbtop_it_harmless_seq')", analyze=True)
    assert await setup.fetchval("SELECT last_value FROM dbtop_it_harmless_seq") == before
    assert await setup.fetchval("SELECT is_called FROM dbtop_it_harmless_seq") == called


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        ("SELECT dbtop_it_writes()", "dbtop_it_writes()"),
        ("SELECT public.dbtop_it_writes()", "public.dbtop_it_writes()"),
        ("SELECT * FROM dbtop_it_acting_view", "dbtop_it_writes()"),
        ("SELECT * FROM dbtop_it_view_over_view", "dbtop_it_writes()"),
        ("WITH w AS (SELECT dbtop_it_writes()) SELECT * FROM w", "dbtop_it_writes()"),
        ("SELECT (SELECT dbtop_it_writes()) + 1", "dbtop_it_writes()"),
        ("SELECT * FROM dbtop_it_writes()", "dbtop_it_writes()"),
        ("SELECT dbtop_hidden.dbtop_it_hidden_writes()", "dbtop_hidden.dbtop_it_hidden_writes()"),
        ("SELECT 1 === 2", "dbtop_it_op_writes()"),
        ("SELECT dbtop_it_agg(g) FROM generate_series(1, 3) g", "dbtop_it_agg()"),
        ("SELECT * FROM dbtop_it_guarded", "dbtop_it_writes()"),
        ("SELECT 1::dbtop_it_dom", "dbtop_it_writes()"),
    ],
)
async def test_analyze_refuses_a_writing_user_function(engine, setup, sql, named):
    with pytest.raises(RefusedError) as err:
        await engine.explain(query=sql, analyze=True)
    assert named in str(err.value) and "volatile" in str(err.value)
    assert await setup.fetchval("SELECT count(*) FROM dbtop_it_victim") == 0


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT pg_stat_statements_reset()",
        "SELECT pg_reload_conf()",
        "SELECT set_config('dbtop.x', 'y', false)",
        "SELECT pg_advisory_lock(42)",
        "SELECT pg_notify('dbtop', 'x')",
        "SELECT txid_current()",
        "SELECT pg_sleep(600)",
    ],
)
async def test_analyze_refuses_builtins_that_act(engine, sql):
    name = sql.split()[1].split("(")[0]
    with pytest.raises(RefusedError, match=rf"{name}\(\)"):
        await engine.explain(query=sql, analyze=True)


async def test_a_function_found_through_search_path_is_refused(pg_url, setup):
    from dbtop.engines.base import ConnectOptions
    from dbtop.engines.postgresql import PostgresEngine

    sep = "&" if "?" in pg_url else "?"
    url = f"{pg_url}{sep}options=-csearch_path%3Ddbtop_hidden,public"
    eng = PostgresEngine(url, ConnectOptions())
    await eng.connect()
    try:
        with pytest.raises(RefusedError, match=r"dbtop_it_hidden_writes\(\)"):
            await eng.explain(query="SELECT dbtop_it_hidden_writes()", analyze=True)
    finally:
        await eng.close()
    assert await setup.fetchval("SELECT count(*) FROM dbtop_it_victim") == 0


async def test_a_harmless_read_is_still_analyzed(engine, setup):
    plan = await engine.explain(
        query="SELECT count(*), lower('X'), now() FROM pg_class WHERE relname ~~ 'pg%'",
        analyze=True,
    )
    assert plan.analyzed
    plan = await engine.explain(query="SELECT * FROM dbtop_it_plain_view", analyze=True)
    assert plan.analyzed
    # SQL syntax the parser turns into pg_catalog calls (extract, btrim, timezone…)
    plan = await engine.explain(
        query="SELECT extract(year FROM now()), substring('abc' FROM 2), trim(' a '), "
        "position('b' IN 'abc'), now() AT TIME ZONE 'UTC', overlay('abc' PLACING 'x' FROM 2), "
        "1 BETWEEN 0 AND 2, 'a' LIKE 'a%', 1 IN (1, 2), coalesce(NULL, 1), "
        "array_agg(g ORDER BY g) FROM generate_series(1, 3) g",
        analyze=True,
    )
    assert plan.analyzed


async def test_plain_explain_of_an_acting_statement_is_allowed(engine, setup):
    plan = await engine.explain(query="SELECT dbtop_it_writes()")
    assert not plan.analyzed
    assert await setup.fetchval("SELECT count(*) FROM dbtop_it_victim") == 0


async def test_cli_read_only_analyze_exits_2_with_one_line(pg_url, clients):
    watcher, pid, task = await _sleeper(clients)
    run = await asyncio.to_thread(
        dbtop,
        "--read-only",
        "explain",
        pg_url,
        "--query",
        f"SELECT pg_cancel_backend({pid})",
        "--analyze",
    )
    assert run.code == 2, run.err
    lines = run.err.strip().splitlines()
    assert len(lines) == 1 and "pg_cancel_backend()" in lines[0], run.err
    assert "Traceback" not in run.err
    assert not task.done()
    assert await watcher.fetchval("SELECT state FROM pg_stat_activity WHERE pid = $1", pid) == (
        "active"
    )
