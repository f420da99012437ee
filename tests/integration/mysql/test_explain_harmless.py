"""ANALYZE that cannot act, on the machine's MariaDB: SLEEP, GET_LOCK, a sequence and a stored
function that writes are refused before anything runs (a read-only transaction stops none
of them, and a stored function's own INSERT would be refused only after it started)."""

from __future__ import annotations

import pytest

from dbtop.errors import QueryError, RefusedError

from .conftest import SHARED_HOST, SHARED_PORT, run

pytestmark = pytest.mark.timeout(90)

#: a database of its own: the advisor's tests read every table of the shared one
HARMLESS_DB = "dbtop_my_harmless"

_SETUP = [
    f"DROP DATABASE IF EXISTS {HARMLESS_DB}",
    f"CREATE DATABASE {HARMLESS_DB}",
    f"USE {HARMLESS_DB}",
    "CREATE TABLE items (id INT PRIMARY KEY, k INT, v VARCHAR(20))",
    "INSERT INTO items VALUES (1, 1, 'a'), (2, 2, 'b')",
    "CREATE TABLE victim (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20))",
    "CREATE SEQUENCE dbtop_seq",
    """CREATE FUNCTION dbtop_writes() RETURNS INT MODIFIES SQL DATA NOT DETERMINISTIC
       BEGIN INSERT INTO victim VALUES ('written'); RETURN 1; END""",
    "CREATE OR REPLACE VIEW acting_view AS SELECT dbtop_writes() AS w",
    "CREATE OR REPLACE VIEW view_over_view AS SELECT * FROM acting_view",
    "CREATE OR REPLACE VIEW plain_view AS SELECT id, lower(v) AS l FROM items",
]


@pytest.fixture
async def app(shared_url, clients):
    conn = await clients.open(SHARED_PORT, "mysql", host=SHARED_HOST)
    for statement in _SETUP:
        await run(conn, statement)
    yield conn
    await run(conn, f"DROP DATABASE IF EXISTS {HARMLESS_DB}")


@pytest.fixture
def url(shared_url):
    return shared_url.rsplit("/", 1)[0] + f"/{HARMLESS_DB}"


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        ("SELECT SLEEP(5)", "SLEEP()"),
        ("SELECT GET_LOCK('dbtop_it_lock', 0)", "GET_LOCK()"),
        ("SELECT * FROM items WHERE id IN (SELECT RELEASE_ALL_LOCKS())", "RELEASE_ALL_LOCKS()"),
        ("SELECT BENCHMARK(1000000, MD5('x'))", "BENCHMARK()"),
        ("SELECT NEXTVAL(dbtop_seq)", "NEXTVAL()"),
        ("SELECT dbtop_writes()", "dbtop_writes()"),
        (f"SELECT `{HARMLESS_DB}`.`dbtop_writes`()", "dbtop_writes()"),
        ("WITH c AS (SELECT dbtop_writes() AS w) SELECT * FROM c", "dbtop_writes()"),
        ("SELECT * FROM acting_view", "dbtop_writes()"),
        ("SELECT * FROM view_over_view", "dbtop_writes()"),
        ("INSERT INTO victim SELECT SLEEP(5)", "SLEEP()"),
        ("CREATE TABLE dbtop_never AS SELECT dbtop_writes() AS w", "dbtop_writes()"),
    ],
)
async def test_analyze_refuses_what_acts(url, engine_for, app, sql, named):
    engine = await engine_for(url)
    seq_before = await run(app, "SELECT next_not_cached_value FROM dbtop_seq")
    with pytest.raises(RefusedError) as err:
        await engine.explain(query=sql, analyze=True)
    assert named in str(err.value) and "\n" not in str(err.value)
    assert (await run(app, "SELECT count(*) FROM victim"))[0][0] == 0
    assert (await run(app, "SELECT IS_FREE_LOCK('dbtop_it_lock')"))[0][0] == 1
    assert await run(app, "SELECT next_not_cached_value FROM dbtop_seq") == seq_before
    # plain EXPLAIN is not refused by the rule (MariaDB rejects EXPLAIN of NEXTVAL in the
    # monitor's read-only session on its own)
    try:
        plan = await engine.explain(query=sql)
    except QueryError as exc:
        assert "READ ONLY" in str(exc)
    else:
        assert not plan.analyzed
    assert (await run(app, "SELECT count(*) FROM victim"))[0][0] == 0


async def test_a_harmless_read_is_still_analyzed(url, engine_for, app):
    engine = await engine_for(url)
    plan = await engine.explain(
        query="SELECT count(*), lower(max(v)), now() FROM items WHERE k IN (1, 2)", analyze=True
    )
    assert plan.analyzed
    plan = await engine.explain(query="SELECT * FROM plain_view", analyze=True)
    assert plan.analyzed
