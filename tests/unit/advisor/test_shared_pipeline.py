"""The pieces every engine shares: the table-access model, the index-name rule, the
suggestion builder; and the LIMIT rule applied the same by the PostgreSQL and MySQL parsers."""

from __future__ import annotations

from dbtop.analysis.advisor import (
    AccessBuilder,
    Candidate,
    Choice,
    Draft,
    Effect,
    IndexNaming,
    Prepared,
    SortKey,
    Workload,
    advise,
    index_name,
)
from dbtop.engines.mysql import workload as mysql_workload
from dbtop.engines.postgresql.workload import Catalog, TableInfo
from dbtop.engines.postgresql.workload import analyze as pg_analyze

from .helpers import ORDERS, orders_facts, query


def test_a_limit_without_order_by_is_dropped():
    access = AccessBuilder(ORDERS, limit=True).build()
    assert access.limit is False and access.order_by == ()
    ordered = AccessBuilder(ORDERS, order_by=[SortKey("created_at")], limit=True).build()
    assert ordered.limit is True


def test_both_sql_parsers_apply_the_limit_rule():
    columns = frozenset({"id", "customer_id", "created_at"})
    catalog = Catalog([TableInfo(ORDERS, columns)], ["public"])
    (pg,) = pg_analyze("SELECT * FROM orders WHERE customer_id = $1 LIMIT 5", catalog)
    tree = mysql_workload.parse("SELECT * FROM orders WHERE customer_id = ? LIMIT 5")
    (my,) = mysql_workload.analyze(tree, "public", {ORDERS: columns}).accesses
    assert pg.limit is False and my.limit is False
    (pg,) = pg_analyze("SELECT * FROM orders ORDER BY created_at LIMIT 5", catalog)
    tree = mysql_workload.parse("SELECT * FROM orders ORDER BY created_at LIMIT 5")
    (my,) = mysql_workload.analyze(tree, "public", {ORDERS: columns}).accesses
    assert pg.limit is True and my.limit is True


def test_access_builder_keeps_or_sorts_the_columns_read():
    builder = AccessBuilder(ORDERS, equality=["b", "a", "b"], read={"b": None, "a": None})
    assert builder.build().equality == ("b", "a")
    assert builder.build().selected == ("b", "a")
    assert builder.build(sort_selected=True).selected == ("a", "b")
    builder.star = True
    assert builder.build().selected is None


def test_one_index_name_rule():
    cand = Candidate(ORDERS, ("customer_id",))
    taken = {"orders_customer_id_idx"}
    assert index_name(cand, taken, IndexNaming(suffix="_idx")) == "orders_customer_id_idx2"
    assert index_name(cand, set(), IndexNaming(prefix="ix_", max_bytes=64)) == (
        "ix_orders_customer_id"
    )
    long = Candidate(ORDERS, tuple(f"column_number_{i}" for i in range(8)))
    for naming in (IndexNaming(suffix="_idx"), IndexNaming(prefix="ix_", max_bytes=64)):
        names = set()
        first = index_name(long, names, naming)
        second = index_name(long, names, naming)
        assert first != second
        assert all(len(n.encode()) <= naming.max_bytes for n in (first, second))
        assert first.startswith(naming.prefix) and first.endswith(naming.suffix)


class _Words:
    naming = IndexNaming(suffix="_idx")

    def statement(self, cand, name):
        return f"CREATE INDEX {name} ON {cand.table.key} ({', '.join(cand.columns)})"

    def verified(self, cand):
        return True

    def reason(self, draft: Draft) -> str:
        return f"{draft.origin}: {draft.share:.0%}"

    def extra(self, draft):
        return {"engine": "test"}


def test_the_builder_words_a_choice_through_the_dialect():
    cand = Candidate(ORDERS, ("customer_id",), origin=("equality on customer_id",))
    workload = Workload((query("q1"), query("q2")), {ORDERS: orders_facts()})
    effects = (Effect("q1", 0.5, 100.0, 2.0), Effect("q2", 0.25, 50.0, float("nan")))
    choice = Choice(cand, effects, 0.4)
    advice = advise(Prepared(workload, [choice], extra={"n": 1}), _Words())
    (s,) = advice.suggestions
    assert s.statement == "CREATE INDEX orders_customer_id_idx ON public.orders (customer_id)"
    assert s.reason == "equality on customer_id: 75%"
    assert (s.cost_before, s.cost_after) == (150.0, 2.0)
    assert [q.cost_after for q in s.queries] == [2.0, None]
    assert dict(s.extra) == {
        "name": "orders_customer_id_idx",
        "engine": "test",
        "benefit": 0.4,
        "workload_share": 0.75,
    }
    assert advice.extra["n"] == 1
