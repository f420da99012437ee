"""The PostgreSQL advisor against the real server with hypopg, on workloads whose right answer
is known. Statements are fed as pg_stat_statements rows (normalized text with ``$n``)."""

from __future__ import annotations

import asyncpg
import pytest

from dbtop.engines.postgresql.advice import advise_connection
from dbtop.engines.postgresql.hypopg import HYPO_BATCH, PlannerOracle
from dbtop.model import Advice, Finding, IndexStat, Session, Statement, to_jsonable

from .conftest import DB, url_for

pytestmark = pytest.mark.timeout(60)


def statements(*queries: str, database: str = DB) -> list[Statement]:
    return [
        Statement(id=f"q{n}", query=q, calls=100, total_ms=1000.0, database=database)
        for n, q in enumerate(queries)
    ]


def suggested(advice: Advice) -> list[tuple[str | None, str, tuple[str, ...]]]:
    return [(s.schema, s.table, s.columns) for s in advice.suggestions]


def reasons(advice: Advice) -> dict[tuple[str, tuple[str, ...]], str]:
    return {(r.table, r.columns): r.reason for r in advice.rejected if not r.include}


async def test_equality_on_one_column(advisor_conn):
    advice = await advise_connection(
        advisor_conn, statements=statements("SELECT * FROM orders WHERE customer_id = $1")
    )
    assert suggested(advice) == [("public", "orders", ("customer_id",))]
    (s,) = advice.suggestions
    assert s.verified is True
    assert s.statement == (
        "CREATE INDEX CONCURRENTLY orders_customer_id_idx ON public.orders (customer_id);"
    )
    assert s.cost_before is not None and s.cost_after is not None
    assert s.cost_after < s.cost_before * 0.1
    assert s.size_bytes and s.size_bytes > 100_000
    (q,) = s.queries
    assert q.id == "q0" and q.share == 1.0 and q.calls == 100
    assert q.cost_before == s.cost_before and q.cost_after == s.cost_after
    assert "equality on customer_id" in s.reason
    assert advice.extra["hypopg"] and advice.extra["verified"] is True


async def test_equality_on_two_columns(advisor_conn):
    advice = await advise_connection(
        advisor_conn,
        statements=statements("SELECT * FROM orders WHERE shop_id = $1 AND product_code = $2"),
    )
    (s,) = advice.suggestions
    assert (s.table, set(s.columns), len(s.columns)) == (
        "orders",
        {"shop_id", "product_code"},
        2,
    )
    # the single columns were considered and found redundant next to the pair
    assert "made redundant" in reasons(advice)[("orders", ("shop_id",))]


async def test_equality_then_range(advisor_conn):
    advice = await advise_connection(
        advisor_conn,
        statements=statements(
            "SELECT * FROM orders WHERE shop_id = $1 AND created_at BETWEEN $2 AND $3"
        ),
    )
    assert suggested(advice) == [("public", "orders", ("shop_id", "created_at"))]


async def test_join_column(advisor_conn):
    advice = await advise_connection(
        advisor_conn,
        statements=statements(
            "SELECT o.id, o.total FROM customers c JOIN orders o ON o.customer_id = c.id "
            "WHERE c.email = $1"
        ),
    )
    assert suggested(advice) == [("public", "orders", ("customer_id",))]
    # the statement reads two columns of orders: an index-only scan holds them
    assert set(advice.suggestions[0].include) == {"id", "total"}
    assert (
        "already served by index customers_email_key" in reasons(advice)[("customers", ("email",))]
    )


async def test_order_by_with_limit(advisor_conn):
    advice = await advise_connection(
        advisor_conn,
        statements=statements("SELECT * FROM orders ORDER BY created_at DESC LIMIT $1"),
    )
    assert suggested(advice) == [("public", "orders", ("created_at",))]
    assert "ORDER BY created_at with LIMIT" in advice.suggestions[0].reason


async def test_three_columns_where_the_plan_wants_them(advisor_conn):
    advice = await advise_connection(
        advisor_conn,
        statements=statements(
            "SELECT * FROM orders WHERE shop_id = $1 AND status = $2 ORDER BY created_at LIMIT $3"
        ),
    )
    assert suggested(advice) == [("public", "orders", ("shop_id", "status", "created_at"))]


async def test_already_indexed_gives_no_suggestion(advisor_conn):
    advice = await advise_connection(
        advisor_conn, statements=statements("SELECT * FROM customers WHERE email = $1")
    )
    assert advice.suggestions == ()
    assert reasons(advice)[("customers", ("email",))] == (
        "already served by index customers_email_key"
    )


async def test_low_selectivity_column_gives_no_suggestion(advisor_conn):
    advice = await advise_connection(
        advisor_conn, statements=statements("SELECT * FROM orders WHERE status = $1")
    )
    assert advice.suggestions == ()
    assert "not selective" in reasons(advice)[("orders", ("status",))]


async def test_tiny_table_gives_no_suggestion(advisor_conn):
    advice = await advise_connection(
        advisor_conn, statements=statements("SELECT * FROM settings WHERE owner = $1")
    )
    assert advice.suggestions == ()
    assert "tiny table" in reasons(advice)[("settings", ("owner",))]


async def test_schema_qualified_and_aliased(advisor_conn):
    advice = await advise_connection(
        advisor_conn,
        statements=statements("SELECT i.qty FROM shop.items AS i WHERE i.sku = $1"),
    )
    assert [(s.schema, s.table, s.columns) for s in advice.suggestions] == [
        ("shop", "items", ("sku",))
    ]
    assert advice.suggestions[0].statement.startswith(
        "CREATE INDEX CONCURRENTLY items_sku_idx ON shop.items (sku)"
    )


async def test_unqualified_table_found_through_the_search_path(advisor_conn):
    await advisor_conn.execute("SET search_path = shop, public")
    advice = await advise_connection(
        advisor_conn,
        statements=statements("SELECT * FROM items WHERE sku = $1 AND qty > $2"),
    )
    assert [s.schema for s in advice.suggestions] == ["shop"]


async def test_cte(advisor_conn):
    advice = await advise_connection(
        advisor_conn,
        statements=statements(
            "WITH big AS (SELECT customer_id, sum(total) AS t FROM orders WHERE shop_id = $1 "
            "GROUP BY customer_id) "
            "SELECT c.email, big.t FROM big JOIN customers c ON c.id = big.customer_id"
        ),
    )
    assert [(s.table, s.columns[0]) for s in advice.suggestions] == [("orders", "shop_id")]


async def test_partial_index_for_a_shared_constant_predicate(advisor_conn):
    advice = await advise_connection(
        advisor_conn,
        statements=statements(
            "SELECT * FROM orders WHERE customer_id = $1 AND deleted_at IS NULL",
        ),
    )
    (s,) = advice.suggestions
    assert (s.columns, s.where) == (("customer_id",), "deleted_at IS NULL")
    assert s.statement.endswith("(customer_id) WHERE deleted_at IS NULL;")


async def test_one_index_serves_several_statements_without_redundancy(advisor_conn):
    advice = await advise_connection(
        advisor_conn,
        statements=statements(
            "SELECT * FROM orders WHERE customer_id = $1",
            "SELECT * FROM orders WHERE customer_id IN ($1, $2, $3)",
            "UPDATE orders SET total = $1 WHERE customer_id = $2",
        ),
    )
    assert suggested(advice) == [("public", "orders", ("customer_id",))]
    (s,) = advice.suggestions
    assert {q.id for q in s.queries} == {"q0", "q1", "q2"}
    assert abs(sum(q.share for q in s.queries) - 1.0) < 1e-9


async def test_weights_follow_total_time(advisor_conn):
    rows = [
        Statement("hot", "SELECT * FROM orders WHERE customer_id = $1", 900, 9000.0, database=DB),
        Statement("cold", "SELECT * FROM shop.items WHERE sku = $1", 10, 1000.0, database=DB),
        Statement("other_db", "SELECT * FROM orders WHERE shop_id = $1", 5, 5e6, database="x"),
    ]
    advice = await advise_connection(advisor_conn, statements=rows)
    assert [s.table for s in advice.suggestions] == ["orders", "items"]
    assert advice.suggestions[0].queries[0].share == pytest.approx(0.9)
    assert advice.extra["statements"] == 2


async def test_a_running_sessions_literal_query_counts(advisor_conn):
    session = Session(
        id="4242",
        database=DB,
        state="active",
        kind="client backend",
        query="SELECT * FROM orders WHERE customer_id = 42",
        duration_s=3.0,
    )
    advice = await advise_connection(advisor_conn, statements=[], sessions=[session])
    assert suggested(advice) == [("public", "orders", ("customer_id",))]
    assert advice.suggestions[0].queries[0].id == "session:4242"


async def test_statements_that_cannot_be_analyzed_are_told(advisor_conn):
    advice = await advise_connection(
        advisor_conn,
        statements=statements(
            "SELECT * FROM orders WHERE customer_id = $1 AND shop_id =",  # truncated
            "BEGIN",
            "SELECT * FROM pg_class WHERE relname = $1",  # a catalog: nothing of ours
            "SELECT * FROM orders WHERE customer_id = $1",
        ),
    )
    assert suggested(advice) == [("public", "orders", ("customer_id",))]
    (notice,) = [n for n in advice.notices if "could not be analyzed" in n.message]
    # BEGIN is no query: left out without a word, only counted
    assert notice.message.startswith("1 statement(s)")
    assert "does not parse" in notice.message
    assert advice.extra["not_indexable"] == 1


async def test_nothing_is_left_behind_and_nothing_was_written(advisor_conn):
    before = await advisor_conn.fetchval(
        "SELECT count(*) FROM pg_indexes WHERE tablename = 'orders'"
    )
    await advise_connection(
        advisor_conn, statements=statements("SELECT * FROM orders WHERE customer_id = $1")
    )
    assert await advisor_conn.fetchval("SELECT count(*) FROM hypopg()") == 0
    assert (
        await advisor_conn.fetchval(
            "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'dbtop%'"
        )
        == 0
    )
    after = await advisor_conn.fetchval(
        "SELECT count(*) FROM pg_indexes WHERE tablename = 'orders'"
    )
    assert before == after
    assert await advisor_conn.fetchval("SELECT current_setting('plan_cache_mode')") == "auto"


async def test_hypothetical_indexes_are_reset_in_batches(advisor_conn):
    """More hypothetical indexes than one batch, in one session, without running out."""
    from itertools import permutations

    from dbtop.analysis.advisor import Candidate, TableRef

    orders = TableRef("public", "orders")
    cols = ("customer_id", "shop_id", "product_code", "status", "created_at", "total")
    candidates = [Candidate(orders, p) for p in permutations(cols, 4)][: HYPO_BATCH + 60]
    assert len(candidates) == HYPO_BATCH + 60
    version = await advisor_conn.fetchval("SHOW server_version_num")
    oracle = PlannerOracle(advisor_conn, version=int(version), hypopg=True)
    await oracle.begin()
    try:
        ok, bad = await oracle.validate(candidates)
        assert (len(ok), bad) == (len(candidates), [])
        assert all(size > 0 for size in oracle.sizes.values())
        assert await advisor_conn.fetchval("SELECT count(*) FROM hypopg()") < HYPO_BATCH
        assert oracle.resets >= 1
        # and the what-if costing goes on past the reset, with indexes created again
        (query,) = _queries()
        await oracle.prepare([query])
        with_index = await oracle.costs(frozenset(ok[:1]), [query])
        without = await oracle.costs(frozenset(), [query])
        assert with_index[query.id] < without[query.id]
    finally:
        await oracle.close()
    assert await advisor_conn.fetchval("SELECT count(*) FROM hypopg()") == 0


async def test_real_pg_stat_statements_rows(advisor_url, advisor_conn):
    """Statements as pg_stat_statements really normalizes them, filtered by our dbid."""
    writer = await asyncpg.connect(advisor_url)
    try:
        for value in range(3):
            await writer.fetch(
                "SELECT id FROM shop.items WHERE order_id = $1 AND qty >= $2", value, 1
            )
    finally:
        await writer.close()
    rows = await advisor_conn.fetch(
        """
        SELECT s.queryid::text AS id, s.query, s.calls, s.total_exec_time AS total_ms
        FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
        WHERE d.datname = $1 AND s.query LIKE '%FROM shop.items WHERE order_id%'
        """,
        DB,
    )
    assert rows, "pg_stat_statements saw the statement"
    rows_as_statements = [
        Statement(r["id"], r["query"], r["calls"], max(r["total_ms"], 0.001), database=DB)
        for r in rows
    ]
    advice = await advise_connection(advisor_conn, statements=rows_as_statements)
    assert [(s.table, s.columns[0]) for s in advice.suggestions] == [("items", "order_id")]


async def test_index_health_is_completed(advisor_conn):
    pkey = IndexStat(
        schema="public",
        table="settings",
        name="settings_pkey",
        columns=("key",),
        unused=True,
        is_primary=True,
        is_unique=True,
        constraint="settings_pkey",
        size_bytes=16384,
    )
    dup = IndexStat(schema="public", table="orders", name="orders_dup", duplicate_of="orders_pkey")
    broken = IndexStat(schema="public", table="orders", name="orders_broken", valid=False)
    from_snapshot = Finding(
        kind="unused_index",
        object="public.settings_pkey",
        message="index settings_pkey was never scanned",
    )
    advice = await advise_connection(
        advisor_conn,
        statements=[],
        findings=[from_snapshot, Finding(kind="seq_scan_heavy", object="x", message="y")],
        indexes=[pkey, dup, broken],
    )
    kinds = {(f.kind, f.object): f for f in advice.findings}
    assert set(kinds) == {
        ("unused_index", "public.settings_pkey"),
        ("duplicate_index", "public.orders_dup"),
        ("invalid_index", "public.orders_broken"),
    }
    unused = kinds[("unused_index", "public.settings_pkey")]
    assert unused.statement == "DROP INDEX CONCURRENTLY public.settings_pkey;"
    assert "backs constraint settings_pkey" in (unused.warning or "")
    assert unused.message.startswith("index settings_pkey was never scanned; the usage statistics")
    assert unused.message.count("usage statistics cover") == 1
    assert unused.extra["stats_age_s"] > 0 and unused.extra["stats_since"]
    assert kinds[("invalid_index", "public.orders_broken")].statement == (
        "DROP INDEX CONCURRENTLY public.orders_broken;"
    )
    assert advice.extra["stats_since"] is not None
    assert to_jsonable(advice)["findings"][0]["extra"]["stats_age_s"] > 0


async def test_without_hypopg_plan_analysis_gives_unverified_suggestions(nohypo_conn):
    advice = await advise_connection(
        nohypo_conn,
        statements=statements(
            "SELECT * FROM orders WHERE customer_id = $1",
            "SELECT * FROM orders WHERE status = $1",
            "SELECT * FROM customers WHERE email = $1",
            database="dbtop_advisor_nohypo",
        ),
    )
    assert suggested(advice) == [("public", "orders", ("customer_id",))]
    (s,) = advice.suggestions
    assert s.verified is False and s.cost_after is None and s.cost_before > 0
    assert "Seq Scan on public.orders" in s.reason and "Not verified" in s.reason
    (notice,) = [n for n in advice.notices if "hypopg" in n.message]
    assert "CREATE EXTENSION hypopg" in (notice.hint or "")
    assert "not selective" in reasons(advice)[("orders", ("status",))]
    assert advice.extra["verified"] is False


async def test_without_hypopg_a_table_read_well_is_left_alone(nohypo_conn):
    advice = await advise_connection(
        nohypo_conn,
        statements=statements(
            "SELECT * FROM orders WHERE id = $1 AND customer_id = $2",
            database="dbtop_advisor_nohypo",
        ),
    )
    assert advice.suggestions == ()
    assert any("do not read public.orders" in r.reason for r in advice.rejected)


def test_fixture_databases_are_ours(pg15_admin_url):
    assert url_for(DB, pg15_admin_url).endswith("/dbtop_advisor")


def _queries():
    from dbtop.analysis.advisor import QueryInfo

    text = "SELECT * FROM orders WHERE customer_id = $1 AND shop_id = $2 AND product_code = $3"
    return [QueryInfo("q", text, 1, 1.0, extra={"params": 3})]


async def test_hidden_statements_of_other_roles_are_told(advisor_conn):
    rows = [
        Statement("a", "<insufficient privilege>", 10, 500.0, database=DB),
        Statement("b", "SELECT * FROM orders WHERE customer_id = $1", 10, 500.0, database=DB),
    ]
    advice = await advise_connection(advisor_conn, statements=rows)
    (notice,) = [n for n in advice.notices if "hidden" in n.message]
    assert "pg_read_all_stats" in (notice.hint or "")
    assert advice.suggestions[0].queries[0].share == pytest.approx(0.5)
