"""How statements are costed: EXPLAIN (GENERIC_PLAN) on PostgreSQL 18, PREPARE / EXPLAIN
EXECUTE below 16 and without PL/pgSQL, batches cut off by statement_timeout, and the whole
advisor on 18 without hypopg (plan analysis, unverified, with the install hint)."""

from __future__ import annotations

import asyncpg
import pytest

from dbtop.analysis.advisor import QueryInfo
from dbtop.engines.postgresql.advice import advise_connection
from dbtop.engines.postgresql.generic_plan import BATCH, GenericPlans
from dbtop.engines.postgresql.hypopg import PlannerOracle
from dbtop.engines.postgresql.workload import param_count
from dbtop.model import Statement

from .conftest import DB

pytestmark = pytest.mark.timeout(90)

TEXTS = (
    "SELECT * FROM orders WHERE customer_id = $1",
    "SELECT * FROM orders WHERE created_at > $1 ORDER BY created_at LIMIT $2",
    "SELECT o.id FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.email = $1",
    "UPDATE orders SET note = $1 WHERE id = $2",
    "SELECT i.sku, count(*) FROM shop.items i GROUP BY i.sku",
)


def infos(*texts: str) -> list[QueryInfo]:
    return [
        QueryInfo(f"q{n}", text, 1, 1.0, extra={"params": param_count(text)})
        for n, text in enumerate(texts)
    ]


async def costs_in(conn: asyncpg.Connection, mode: str | None, queries: list[QueryInfo]):
    version = int(await conn.fetchval("SHOW server_version_num"))
    plans = GenericPlans(conn, version)
    await plans.begin()
    if mode is not None:
        plans.mode = mode
    try:
        await plans.add(queries)
        return plans.mode, plans.batched, await plans.costs(queries), dict(plans.failures)
    finally:
        await plans.close()


async def test_generic_plan_on_18_matches_prepare(pg18_conn):
    queries = infos(*TEXTS)
    mode, batched, generic, failed = await costs_in(pg18_conn, None, queries)
    assert (mode, batched, failed) == ("generic_plan", True, {})
    _, _, prepared, failed = await costs_in(pg18_conn, "prepare", queries)
    assert failed == {}
    assert generic == prepared
    # a real plan for an unknown value, not the "no rows" plan of a bound NULL
    assert generic["q0"] > 100


async def test_below_16_prepare_is_used(advisor_conn):
    mode, batched, costs, failed = await costs_in(advisor_conn, None, infos(*TEXTS))
    assert (mode, batched, failed) == ("prepare", True, {})
    assert all(cost and cost > 0 for cost in costs.values())


async def test_without_plpgsql_one_statement_at_a_time(advisor_noplpgsql_url):
    conn = await asyncpg.connect(advisor_noplpgsql_url)
    try:
        mode, batched, costs, failed = await costs_in(conn, None, infos(*TEXTS))
        assert (mode, batched, failed) == ("prepare", False, {})
        assert all(cost and cost > 0 for cost in costs.values())
        advice = await advise_connection(
            conn,
            statements=[
                Statement("q", TEXTS[0], 10, 100.0, database="dbtop_advisor_noplpgsql"),
            ],
        )
        assert [(s.table, s.columns, s.verified) for s in advice.suggestions] == [
            ("orders", ("customer_id",), True)
        ]
        assert advice.extra["plan_mode"] == "prepare"
    finally:
        await conn.close()


@pytest.mark.parametrize("server", ["pg15", "pg18"])
async def test_failures_stay_with_their_statement(request, server):
    url = request.getfixturevalue("advisor_url" if server == "pg15" else "pg18_url")
    conn = await asyncpg.connect(url, server_settings={"statement_timeout": "200"})
    try:
        good = infos(*TEXTS)
        bad = [
            QueryInfo("slow", "SELECT * FROM orders WHERE customer_id = slow_to_plan()", 1, 1.0),
            QueryInfo("nope", "SELECT * FROM orders WHERE no_such_column = $1", 1, 1.0),
        ]
        version = int(await conn.fetchval("SHOW server_version_num"))
        plans = GenericPlans(conn, version)
        await plans.begin()
        try:
            await plans.add([*good, *bad])
            costs = await plans.costs([*good, *bad])
        finally:
            await plans.close()
        assert all(costs[q.id] for q in good)
        assert costs["slow"] is None and costs["nope"] is None
        assert "statement_timeout" in plans.failures["slow"]
        assert "no_such_column" in plans.failures["nope"]
        assert not await conn.fetchval(
            "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'dbtop%'"
        )
    finally:
        await conn.close()


async def test_batches_are_bounded(pg18_conn):
    queries = infos(
        *(f"SELECT * FROM orders WHERE customer_id = $1 AND {n} = {n}" for n in range(60))
    )
    version = int(await pg18_conn.fetchval("SHOW server_version_num"))
    plans = GenericPlans(pg18_conn, version)
    await plans.begin()
    try:
        await plans.add(queries)
        costs = await plans.costs(queries)
    finally:
        await plans.close()
    assert len(costs) == 60 and all(costs.values())
    # a set_config and a DO block per batch
    assert plans.round_trips == 2 * -(-60 // BATCH)


async def test_advisor_on_18_without_hypopg(pg18_conn):
    advice = await advise_connection(
        pg18_conn,
        statements=[
            Statement("a", TEXTS[0], 100, 1000.0, database=DB),
            Statement("b", "SELECT * FROM customers WHERE email = $1", 100, 10.0, database=DB),
        ],
    )
    assert [(s.table, s.columns, s.verified) for s in advice.suggestions] == [
        ("orders", ("customer_id",), False)
    ]
    (s,) = advice.suggestions
    assert s.cost_before and s.cost_before > 100 and s.cost_after is None
    assert s.size_bytes and s.size_bytes > 100_000  # estimated from the statistics
    assert advice.extra["plan_mode"] == "generic_plan" and advice.extra["verified"] is False
    (notice,) = [n for n in advice.notices if "hypopg" in n.message]
    assert "postgresql-18-hypopg" in (notice.hint or "")


async def test_oracle_on_18_refuses_hypothetical_indexes_without_hypopg(pg18_conn):
    from dbtop.analysis.advisor import Candidate, TableRef

    oracle = PlannerOracle(pg18_conn, version=180000, hypopg=False)
    await oracle.begin()
    try:
        with pytest.raises(ValueError, match="hypopg"):
            await oracle.costs(frozenset({Candidate(TableRef("public", "orders"), ("id",))}), [])
    finally:
        await oracle.close()


async def test_the_advisors_explains_stay_out_of_pg_stat_statements(advisor_url):
    conn = await asyncpg.connect(advisor_url)
    try:
        if not await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
            pytest.skip("only a superuser (or a role granted SET on it) may stop the tracking")
        try:
            await conn.execute(
                "SELECT pg_stat_statements_reset(0, "
                "(SELECT oid FROM pg_database WHERE datname = current_database()), 0)"
            )
        except asyncpg.PostgresError as exc:
            pytest.skip(f"pg_stat_statements is not usable: {exc}")
        advice = await advise_connection(
            conn, statements=[Statement("q", TEXTS[0], 10, 100.0, database=DB)]
        )
        assert advice.extra["untracked"] is True and advice.suggestions
        recorded = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_statements WHERE dbid = "
            "(SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND (query LIKE '%EXPLAIN%' OR query LIKE '%hypopg_create_index%')"
        )
        assert recorded == 0
    finally:
        await conn.close()
