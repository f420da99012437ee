"""The query families the advisor resolves beyond a filter on a plain table, each against a
real server: views and materialized views, partitioned tables, inlined CTEs (a MATERIALIZED
one stays a fence), ORDER BY without LIMIT, IS NULL, ``ORDER BY 1`` with ``SELECT *``.

PostgreSQL 15 (hypopg: the what-if cost decides) and, for the families the workload analysis
alone finds, PostgreSQL 18 (no hypopg: plan analysis, unverified). One schema ``fam`` built
once per module and server, 100k-row tables."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from dbtop.engines.postgresql.advice import advise_connection
from dbtop.model import Advice, Statement

from .conftest import DB

pytestmark = pytest.mark.timeout(90)

SCHEMA = """
DROP SCHEMA IF EXISTS fam CASCADE;
CREATE SCHEMA fam;
CREATE TABLE fam.posts (
    id int NOT NULL, author_id int NOT NULL, title text NOT NULL,
    created_at timestamptz NOT NULL, closed_by int, body text NOT NULL
);
INSERT INTO fam.posts
SELECT g, g % 5000, 't' || g, timestamptz '2024-01-01' + g * interval '1 minute',
       CASE WHEN g % 40 <> 0 THEN g % 4 END, repeat('b', 60)
FROM generate_series(1, 100000) g;
CREATE VIEW fam.posts_v AS SELECT id, author_id, title AS headline, created_at FROM fam.posts;
CREATE MATERIALIZED VIEW fam.posts_mv AS SELECT id, author_id, created_at FROM fam.posts;
CREATE TABLE fam.events (id int NOT NULL, at timestamptz NOT NULL, kind int NOT NULL,
                         device int NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE fam.events_h1 PARTITION OF fam.events FOR VALUES FROM ('2024-01-01') TO ('2024-07-01');
CREATE TABLE fam.events_h2 PARTITION OF fam.events FOR VALUES FROM ('2024-07-01') TO ('2025-01-01');
INSERT INTO fam.events
SELECT g, timestamptz '2024-01-01' + g * interval '5 minutes', g % 20, g % 3000
FROM generate_series(1, 100000) g;
CREATE TABLE fam.tickets (id int NOT NULL, org int NOT NULL, state int NOT NULL,
                          opened_at timestamptz NOT NULL);
INSERT INTO fam.tickets
SELECT g, g % 50, g % 4, timestamptz '2024-01-01' + g * interval '7 minutes'
FROM generate_series(1, 60000) g;
CREATE INDEX tickets_org ON fam.tickets (org);
CREATE INDEX tickets_org_state ON fam.tickets (org, state);
"""
# the parent's statistics only come from ANALYZE on it (autovacuum does not)
ANALYZE = (
    "VACUUM ANALYZE fam.posts, fam.posts_mv, fam.events_h1, fam.events_h2, fam.events, fam.tickets"
)


async def _build(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(SCHEMA)
        await conn.execute(ANALYZE)
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def fam15(advisor_url: str) -> str:
    asyncio.run(_build(advisor_url))
    return advisor_url


@pytest.fixture(scope="module")
def fam18(pg18_url: str) -> str:
    asyncio.run(_build(pg18_url))
    return pg18_url


@pytest.fixture
async def conn15(fam15: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(fam15, server_settings={"default_transaction_read_only": "on"})
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture(params=["pg15", "pg18"])
def fam_url(request: pytest.FixtureRequest) -> str:
    """Both servers: with hypopg (verified) and without (plan analysis)."""
    return str(request.getfixturevalue("fam15" if request.param == "pg15" else "fam18"))


@pytest.fixture
async def conn(fam_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(fam_url, server_settings={"default_transaction_read_only": "on"})
    try:
        yield conn
    finally:
        await conn.close()


def statements(*queries: str) -> list[Statement]:
    return [
        Statement(id=f"q{n}", query=q, calls=100, total_ms=1000.0, database=DB)
        for n, q in enumerate(queries)
    ]


def suggested(advice: Advice) -> list[tuple[str, tuple[str, ...]]]:
    return [(s.table, s.columns) for s in advice.suggestions]


async def advise(conn: asyncpg.Connection, *queries: str) -> Advice:
    return await advise_connection(conn, statements=statements(*queries))


async def test_a_view_is_indexed_on_its_base_table(conn):
    advice = await advise(conn, "SELECT * FROM fam.posts_v WHERE id = $1")
    assert suggested(advice) == [("posts", ("id",))]
    (s,) = advice.suggestions
    assert s.schema == "fam" and s.queries[0].id == "q0"


async def test_a_materialized_view_is_indexed_itself(conn):
    advice = await advise(conn, "SELECT * FROM fam.posts_mv WHERE author_id = $1")
    assert suggested(advice) == [("posts_mv", ("author_id",))]


async def test_a_partitioned_table_is_indexed_on_the_parent(conn):
    advice = await advise(conn, "SELECT * FROM fam.events WHERE device = $1")
    assert suggested(advice) == [("events", ("device",))]
    (s,) = advice.suggestions
    assert "every partition (2)" in s.reason
    # CONCURRENTLY is refused on a partitioned table
    assert s.statement.startswith("CREATE INDEX events_device_idx ON fam.events (device)")


async def test_the_parent_is_preferred_to_one_partition_when_it_serves_both(conn15):
    advice = await advise(
        conn15,
        "SELECT * FROM fam.events WHERE device = $1",
        "SELECT * FROM fam.events_h1 WHERE device = $1",
    )
    assert suggested(advice) == [("events", ("device",))]
    (s,) = advice.suggestions
    assert {q.id for q in s.queries} == {"q0", "q1"}
    partition = [r for r in advice.rejected if r.table == "events_h1" and r.columns == ("device",)]
    assert partition and "redundant" in partition[0].reason


async def test_a_cte_the_planner_inlines_reaches_the_table(conn):
    advice = await advise(
        conn, "WITH p AS (SELECT * FROM fam.posts) SELECT id FROM p WHERE p.author_id = $1"
    )
    assert [c[0] for t, c in suggested(advice)] == ["author_id"]


async def test_a_materialized_cte_stays_a_fence(conn15):
    advice = await advise(
        conn15,
        "WITH p AS MATERIALIZED (SELECT * FROM fam.posts) SELECT id FROM p WHERE author_id = $1",
    )
    assert advice.suggestions == ()


async def test_order_by_without_limit_is_left_to_the_what_if_cost(conn15):
    advice = await advise(conn15, "SELECT id, created_at FROM fam.posts ORDER BY created_at")
    assert suggested(advice) == [("posts", ("created_at",))]
    (s,) = advice.suggestions
    assert "a full read in index order" in s.reason
    assert s.cost_after is not None and s.cost_before is not None
    assert s.cost_after < s.cost_before


async def test_is_null_is_judged_by_the_null_fraction(conn):
    advice = await advise(conn, "SELECT * FROM fam.posts WHERE closed_by IS NULL")
    ((table, columns),) = suggested(advice)
    assert (table, columns) == ("posts", ("closed_by",))
    assert not [r for r in advice.rejected if "not selective" in r.reason]


async def test_is_null_with_an_equality_compares_plain_and_partial(conn15):
    advice = await advise(
        conn15, "SELECT * FROM fam.posts WHERE author_id = $1 AND closed_by IS NULL"
    )
    (s,) = advice.suggestions
    assert s.columns[0] == "author_id"
    # the other form was costed too, and the reason it lost is given
    others = [r for r in advice.rejected if r.columns and r.columns[0] == "author_id"]
    assert any(bool(r.where) != bool(s.where) for r in others)


async def test_order_by_a_position_into_select_star(conn):
    advice = await advise(conn, "SELECT * FROM fam.posts ORDER BY 1 LIMIT 10")
    assert suggested(advice) == [("posts", ("id",))]


def weighed(*rows: tuple[str, int, float]) -> list[Statement]:
    return [
        Statement(id=f"w{n}", query=q, calls=calls, total_ms=ms, database=DB)
        for n, (q, calls, ms) in enumerate(rows)
    ]


async def test_the_write_cost_of_an_index_is_weighed_with_its_figures(conn15):
    read = "SELECT * FROM fam.posts WHERE author_id = $1"
    insert = "INSERT INTO fam.posts VALUES ($1, $2, $3, $4, $5, $6)"
    # a few writes: suggested, with the writes' figures (calls/s over the period)
    advice = await advise_connection(
        conn15,
        statements=weighed((read, 1000, 9900.0), (insert, 3600, 100.0)),
        period_s=3600.0,
    )
    (s,) = advice.suggestions
    assert s.columns == ("author_id",)
    assert "Writes on fam.posts: INSERT 1.0 calls/s" in s.reason
    assert 0 < s.extra["write_share"] < 0.01
    # a write-heavy table: the upkeep outweighs what it saves, and that is why
    advice = await advise_connection(
        conn15,
        statements=weighed(
            (read, 1000, 2000.0),
            (insert, 360_000, 6000.0),
            ("UPDATE fam.posts SET author_id = $1 WHERE id = $2", 36_000, 2000.0),
        ),
        period_s=3600.0,
    )
    assert advice.suggestions == () or all(x.columns != ("author_id",) for x in advice.suggestions)
    (why,) = {r.reason for r in advice.rejected if r.columns == ("author_id",) and not r.include}
    assert why.startswith("the writes outweigh it: keeping it up to date would cost about")
    assert "INSERT 100.0 calls/s, UPDATE of author_id 10.0 calls/s on fam.posts" in why
    # and which statements it was for
    (rejection,) = [r for r in advice.rejected if r.reason == why and not r.where]
    assert "w0" in rejection.extra["queries"]


async def test_an_index_that_makes_two_existing_ones_redundant_replaces_them(conn15):
    advice = await advise(
        conn15,
        "SELECT * FROM fam.tickets WHERE org = $1 AND state = $2 "
        "AND opened_at >= $3 AND opened_at < $4",
    )
    (s,) = advice.suggestions
    # org is the more selective lookup: first, so both existing indexes are its prefixes
    assert s.columns == ("org", "state", "opened_at")
    assert s.extra["replaces"] == ["tickets_org", "tickets_org_state"]
    create, *drops = s.statement.split("\n")
    assert create.startswith("CREATE INDEX CONCURRENTLY tickets_org_state_opened_at_idx")
    assert drops == [
        "DROP INDEX CONCURRENTLY fam.tickets_org;",
        "DROP INDEX CONCURRENTLY fam.tickets_org_state;",
    ]
    assert "It replaces tickets_org and tickets_org_state" in s.reason
    # hypopg 1.4+ hides each from the planner to check it; 1.3 (here) cannot: the
    # definitions decide, and the reason does not claim a check
    version = await conn15.fetchval("SELECT extversion FROM pg_extension WHERE extname = 'hypopg'")
    checked = "hidden from the planner (hypopg_hide_index)" in s.reason
    assert checked == (tuple(int(p) for p in version.split(".")[:2]) >= (1, 4))


async def test_the_statistics_period_the_calls_per_second_are_over(conn15):
    """From pg_stat_statements_info's reset (14+): what ``suggest`` divides calls by."""
    from dbtop.engines.postgresql.advisor_source import recorded_workload

    recorded = await recorded_workload(conn15)
    assert recorded is not None and recorded.period_s is not None
    uptime = await conn15.fetchval(
        "SELECT extract(epoch FROM now() - pg_postmaster_start_time())::float8"
    )
    assert 0 < recorded.period_s <= uptime + 1
