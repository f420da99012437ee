"""PostgreSQL statements into access patterns with pglast: names resolved like the server
resolves them (no server needed: the catalog is given)."""

from __future__ import annotations

import pytest

from dbtop.analysis.advisor import Candidate, Constant, SortKey, TableRef, index_name
from dbtop.engines.postgresql.advice import NAMING, create_statement
from dbtop.engines.postgresql.advice_catalog import predicate_conjuncts
from dbtop.engines.postgresql.hypopg import index_body
from dbtop.engines.postgresql.workload import (
    Catalog,
    NotAnalyzable,
    TableInfo,
    analyze,
    param_count,
    quote_ident,
    relation_names,
)

ORDERS = TableRef("public", "orders")
CUSTOMERS = TableRef("public", "customers")
ITEMS = TableRef("shop", "items")
ALICE_ORDERS = TableRef("alice", "orders")

CATALOG = Catalog(
    [
        TableInfo(
            ORDERS, frozenset(["id", "customer_id", "status", "created_at", "total", "deleted_at"])
        ),
        TableInfo(CUSTOMERS, frozenset(["id", "name", "country", "email", "active"])),
        TableInfo(ITEMS, frozenset(["id", "order_id", "sku", "qty"])),
        TableInfo(ALICE_ORDERS, frozenset(["id", "note"])),
    ],
    ["$user", "public"],
)


def accesses(sql: str, user: str | None = "postgres") -> dict[TableRef, dict]:
    result: dict[TableRef, dict] = {}
    for access in analyze(sql, CATALOG, user):
        fields = {
            name: getattr(access, name)
            for name in (
                "equality",
                "range",
                "join",
                "in_list",
                "order_by",
                "limit",
                "group_by",
                "constants",
                "selected",
            )
        }
        assert access.table not in result, "one occurrence per table in these statements"
        result[access.table] = fields
    return result


def test_equality_range_and_selected_columns():
    a = accesses("SELECT id, total FROM orders WHERE customer_id = $1 AND created_at >= $2")
    o = a[ORDERS]
    assert o["equality"] == ("customer_id",)
    assert o["range"] == ("created_at",)
    assert set(o["selected"]) == {"id", "total", "customer_id", "created_at"}


def test_value_on_the_left_and_casts_of_parameters():
    o = accesses("SELECT * FROM orders WHERE $1::int = customer_id AND $2 < total")[ORDERS]
    assert o["equality"] == ("customer_id",) and o["range"] == ("total",)
    assert o["selected"] is None  # SELECT *


def test_expression_on_the_column_side_is_not_indexable():
    o = accesses("SELECT id FROM orders WHERE lower(status) = $1 AND total + 1 > $2")[ORDERS]
    assert o["equality"] == () and o["range"] == ()
    assert set(o["selected"]) == {"id", "status", "total"}


def test_aliases_joins_and_schemas():
    a = accesses(
        "SELECT o.id FROM orders AS o JOIN public.customers c ON c.id = o.customer_id "
        "JOIN shop.items i USING (id) WHERE c.country = $1"
    )
    assert a[ORDERS]["join"] == ("customer_id", "id")
    assert a[CUSTOMERS]["join"] == ("id",) and a[CUSTOMERS]["equality"] == ("country",)
    assert a[ITEMS]["join"] == ("id",)


def test_search_path_with_user_schema():
    assert set(accesses("SELECT note FROM orders WHERE id = $1", user="alice")) == {ALICE_ORDERS}
    assert set(accesses("SELECT * FROM orders WHERE id = $1", user="bob")) == {ORDERS}
    assert accesses("SELECT * FROM nowhere WHERE id = $1") == {}


def test_cte_hides_a_table_of_the_same_name_and_is_walked():
    a = accesses(
        "WITH orders AS (SELECT * FROM shop.items WHERE sku = $1) "
        "SELECT * FROM orders WHERE qty > $2"
    )
    assert set(a) == {ITEMS}
    assert a[ITEMS]["equality"] == ("sku",)
    assert a[ITEMS]["range"] == ()  # the outer predicate is on the CTE, not the table


def test_subqueries_in_from_where_and_correlated():
    a = accesses(
        "SELECT c.name FROM customers c "
        "WHERE c.id IN (SELECT customer_id FROM orders WHERE total > $1) "
        "AND EXISTS (SELECT 1 FROM shop.items i WHERE i.order_id = c.id AND i.qty = $2)"
    )
    assert a[CUSTOMERS]["join"] == ("id",)
    assert a[ORDERS]["join"] == ("customer_id",) and a[ORDERS]["range"] == ("total",)
    assert a[ITEMS]["join"] == ("order_id",) and a[ITEMS]["equality"] == ("qty",)
    derived = accesses("SELECT x.id FROM (SELECT id FROM orders WHERE status = $1) x")
    assert derived[ORDERS]["equality"] == ("status",)


def test_union_branches_each_count():
    a = accesses(
        "SELECT id FROM orders WHERE customer_id = $1 UNION ALL "
        "SELECT id FROM customers WHERE email = $2"
    )
    assert a[ORDERS]["equality"] == ("customer_id",)
    assert a[CUSTOMERS]["equality"] == ("email",)


def test_order_by_limit_with_positions_and_output_names():
    o = accesses(
        "SELECT created_at AS c, id FROM orders WHERE status = $1 ORDER BY c DESC, 2 LIMIT 10"
    )[ORDERS]
    assert o["order_by"] == (SortKey("created_at", True), SortKey("id", False))
    assert o["limit"] is True
    unlimited = accesses("SELECT * FROM orders ORDER BY created_at LIMIT ALL")[ORDERS]
    assert unlimited["limit"] is False
    fetch = accesses("SELECT * FROM orders ORDER BY id FETCH FIRST 5 ROWS ONLY")[ORDERS]
    assert fetch["limit"] is True


def test_order_by_across_tables_is_not_a_sort_candidate():
    a = accesses(
        "SELECT * FROM orders o JOIN customers c ON c.id = o.customer_id "
        "ORDER BY c.name, o.created_at LIMIT 5"
    )
    assert a[ORDERS]["order_by"] == () and a[CUSTOMERS]["order_by"] == ()


def test_group_by():
    o = accesses("SELECT status, count(*) FROM orders GROUP BY 1")[ORDERS]
    assert o["group_by"] == ("status",)


def test_in_lists_any_and_or_of_one_column():
    o = accesses(
        "SELECT * FROM orders WHERE customer_id IN ($1, $2) AND status = ANY($3) "
        "AND (id = $4 OR id = $5) AND total IN ($6)"
    )[ORDERS]
    assert o["in_list"] == ("customer_id", "status", "id")
    assert o["equality"] == ("total",)
    mixed = accesses("SELECT * FROM orders WHERE id = $1 OR status = $2")[ORDERS]
    assert mixed["in_list"] == () and mixed["equality"] == ()


def test_row_comparison_and_between():
    o = accesses(
        "SELECT id FROM orders WHERE (customer_id, status) = ($1, $2) "
        "AND created_at BETWEEN $3 AND $4"
    )[ORDERS]
    assert o["equality"] == ("customer_id", "status")
    assert o["range"] == ("created_at",)


def test_constant_predicates():
    c = accesses(
        "SELECT * FROM customers WHERE active AND country = 'FR' AND name IS NOT NULL "
        "AND email = $1"
    )[CUSTOMERS]
    assert c["constants"] == (
        Constant("active", "active"),
        Constant("country", "country = 'FR'"),
        Constant("name", "name IS NOT NULL", null_test=False),
    )
    assert c["equality"] == ("country", "email")
    o = accesses("SELECT * FROM orders WHERE NOT (deleted_at IS NULL) IS TRUE")[ORDERS]
    assert o["constants"] == ()
    n = accesses("SELECT * FROM customers WHERE NOT active")[CUSTOMERS]
    assert n["constants"] == (Constant("active", "NOT active"),)


def test_update_delete_insert_select():
    u = accesses("UPDATE orders SET status = $1 WHERE customer_id = $2")[ORDERS]
    assert u["equality"] == ("customer_id",) and u["selected"] is None
    d = accesses(
        "DELETE FROM orders o USING customers c WHERE o.customer_id = c.id AND c.email = $1"
    )
    assert d[ORDERS]["join"] == ("customer_id",) and d[CUSTOMERS]["equality"] == ("email",)
    i = accesses("INSERT INTO shop.items SELECT * FROM shop.items WHERE sku = $1")
    assert i[ITEMS]["equality"] == ("sku",)


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        ("BEGIN", "is not a query"),
        ("INSERT INTO orders VALUES ($1, $2)", "reads no table"),
        ("SELECT * FROM orders WHERE id =", "does not parse"),
        ("SELECT 1; SELECT 2", "several statements"),
    ],
)
def test_not_analyzable(sql, why):
    with pytest.raises(NotAnalyzable, match=why):
        analyze(sql, CATALOG)


def test_relation_names_and_params():
    sql = "WITH x AS (SELECT 1) SELECT * FROM shop.items, x WHERE sku = $3 AND qty = $1"
    assert relation_names(sql) == {("shop", "items"), (None, "x")}
    assert param_count(sql) == 3
    assert param_count("SELECT 1") == 0


def test_quote_ident():
    assert quote_ident("orders") == "orders"
    assert quote_ident("user") == '"user"'
    assert quote_ident("Order") == '"Order"'
    assert quote_ident('a"b') == '"a""b"'
    assert quote_ident("1st") == '"1st"'
    assert quote_ident("name") == "name"  # unreserved keyword


def test_predicate_conjuncts_match_the_parser_text():
    assert predicate_conjuncts("(deleted_at IS NULL)") == ("deleted_at IS NULL",)
    assert predicate_conjuncts("((active) AND (total > (0)::numeric))") == (
        "active",
        "total > CAST(0 AS numeric)",
    )
    assert predicate_conjuncts(None) == ()


def test_ddl_is_quoted_and_named_like_postgres():
    cand = Candidate(
        TableRef("Sales", "order"),
        ("user", "created_at"),
        descending=(False, True),
        include=("total",),
        where=("deleted_at IS NULL",),
    )
    assert index_body(cand) == (
        'ON "Sales"."order" USING btree ("user", created_at DESC) INCLUDE (total) '
        "WHERE deleted_at IS NULL"
    )
    taken = {"order_user_created_at_partial_idx"}
    name = index_name(cand, taken, NAMING)
    assert name == "order_user_created_at_partial_idx2"
    assert create_statement(cand, name) == (
        'CREATE INDEX CONCURRENTLY order_user_created_at_partial_idx2 ON "Sales"."order" '
        '("user", created_at DESC) INCLUDE (total) WHERE deleted_at IS NULL;'
    )
    long = Candidate(ORDERS, tuple(f"column_with_a_long_name_{n}" for n in range(4)))
    assert len(index_name(long, set(), NAMING).encode()) <= 63


def test_merge_probes_the_target_through_the_join_condition():
    a = accesses(
        "MERGE INTO orders o USING (VALUES ($1::int, $2::numeric)) AS v(cid, t) "
        "ON o.customer_id = v.cid WHEN MATCHED THEN UPDATE SET total = v.t "
        "WHEN NOT MATCHED THEN INSERT (customer_id, total) VALUES (v.cid, v.t)"
    )
    assert a[ORDERS]["join"] == ("customer_id",) and a[ORDERS]["selected"] is None


def test_join_with_a_cte_or_a_subquery_column_is_a_join():
    a = accesses(
        "WITH recent AS (SELECT id FROM customers WHERE country = $1) "
        "SELECT o.total FROM recent r JOIN orders o ON o.customer_id = r.id"
    )
    assert a[ORDERS]["join"] == ("customer_id",)
    assert a[CUSTOMERS]["equality"] == ("country",)
    sub = accesses(
        "SELECT o.id FROM (SELECT id FROM customers WHERE active) c, orders o "
        "WHERE customer_id = c.id"
    )
    assert sub[ORDERS]["join"] == ("customer_id",)


@pytest.mark.parametrize(
    "sql", ["BEGIN", "SET work_mem = '64MB'", "EXPLAIN SELECT 1", "INSERT INTO orders VALUES ($1)"]
)
def test_statements_no_index_helps_are_told_apart(sql):
    from dbtop.engines.postgresql.workload import NothingToIndex

    with pytest.raises(NothingToIndex):
        analyze(sql, CATALOG)


def test_own_statements_are_recognized():
    from dbtop.engines.postgresql.workload import MARK, is_own

    assert is_own(MARK + "SELECT 1") and not is_own("SELECT 1 /* app */")
