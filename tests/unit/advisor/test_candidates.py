"""Candidate generation: column order, variants, and a reason for every dropped candidate."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dbtop.analysis.advisor import (
    AdvisorSettings,
    ColumnFacts,
    Constant,
    ExistingIndex,
    SortKey,
    TableAccess,
    TableFacts,
    generate,
)

from .helpers import ORDERS, TINY, orders_facts, pk, query, workload


def columns_of(result) -> set[tuple[str, ...]]:
    return {c.columns for c in result.candidates if not c.include and not c.where}


def test_equality_on_one_column_gives_that_column():
    w = workload(query("q1", TableAccess(ORDERS, equality=("customer_id",))))
    result = generate(w)
    assert columns_of(result) == {("customer_id",)}
    (cand,) = result.candidates
    assert cand.queries == frozenset({"q1"})
    assert cand.lookups == 1
    assert "equality on customer_id" in cand.origin


def test_two_equalities_most_selective_first_with_prefixes():
    w = workload(query("q1", TableAccess(ORDERS, equality=("shop_id", "customer_id"))))
    assert columns_of(generate(w)) == {
        ("customer_id",),
        ("shop_id",),
        ("customer_id", "shop_id"),
    }


def test_equality_then_range_and_three_columns():
    access = TableAccess(ORDERS, equality=("shop_id", "customer_id"), range=("created_at",))
    cols = columns_of(generate(workload(query("q1", access))))
    assert ("customer_id", "shop_id", "created_at") in cols
    assert ("created_at",) in cols


def test_order_by_with_limit_and_mixed_directions():
    access = TableAccess(
        ORDERS,
        equality=("customer_id",),
        order_by=(SortKey("created_at", descending=True), SortKey("id")),
        limit=True,
    )
    result = generate(workload(query("q1", access)))
    by_cols = {c.columns: c for c in result.candidates if not c.include}
    sort_only = by_cols[("created_at", "id")]
    # (created_at DESC, id) is (created_at, id DESC) read backwards
    assert sort_only.descending == (False, True)
    with_lookup = by_cols[("customer_id", "created_at", "id")]
    assert with_lookup.descending == (False, False, True)
    assert with_lookup.lookups == 1


def test_order_by_same_direction_needs_no_desc_columns():
    access = TableAccess(ORDERS, order_by=(SortKey("created_at", descending=True),), limit=True)
    (cand,) = generate(workload(query("q1", access))).candidates
    assert cand.columns == ("created_at",) and cand.descending == ()


def test_order_by_without_limit_is_a_candidate_the_what_if_decides():
    """The planner reads a correlated or narrow table in index order instead of sorting it:
    the candidate goes to the what-if cost (an engine may turn it off)."""
    access = TableAccess(ORDERS, order_by=(SortKey("created_at"),))
    (cand,) = generate(workload(query("q1", access))).candidates
    assert cand.columns == ("created_at",)
    assert cand.origin == ("ORDER BY created_at (a full read in index order)",)
    off = AdvisorSettings(sort_without_limit=False)
    assert generate(workload(query("q1", access)), off).candidates == ()


def test_is_null_is_judged_by_the_null_fraction():
    """2.5% NULL in a column of four values: ``= value`` keeps a quarter of the rows, but
    ``IS NULL`` keeps 2.5%; with an equality on another column the plain and the partial
    candidate both go to the what-if."""
    facts = orders_facts(pk())
    columns = dict(facts.columns)
    columns["closed_by"] = ColumnFacts("closed_by", n_distinct=4, null_frac=0.025, avg_width=4)
    facts = replace(facts, columns=columns)
    null = Constant("closed_by", "closed_by IS NULL", null_test=True)
    alone = TableAccess(ORDERS, constants=(null,))
    found = generate(workload(query("q1", alone), facts=facts))
    assert (("closed_by",), ("closed_by IS NULL",)) in {
        (c.columns, c.where) for c in found.candidates
    }
    assert not [r for r in found.rejected if "not selective" in r.reason]
    with_eq = TableAccess(ORDERS, equality=("customer_id",), constants=(null,))
    both = {
        (c.columns, c.where)
        for c in generate(workload(query("q2", with_eq), facts=facts)).candidates
    }
    assert (("customer_id",), ("closed_by IS NULL",)) in both  # partial
    assert (("closed_by", "customer_id"), ()) in both or (("customer_id", "closed_by"), ()) in both
    # IS NOT NULL keeps 97.5%: no key on it
    not_null = TableAccess(
        ORDERS, constants=(Constant("closed_by", "closed_by IS NOT NULL", null_test=False),)
    )
    found = generate(workload(query("q3", not_null), facts=facts))
    assert all("closed_by" not in c.columns or c.where for c in found.candidates)


def test_join_and_in_list_columns():
    access = TableAccess(ORDERS, join=("customer_id",), in_list=("shop_id",))
    cols = columns_of(generate(workload(query("q1", access))))
    assert ("customer_id",) in cols
    assert ("shop_id",) in cols
    assert ("customer_id", "shop_id") in cols


def test_covering_variant_uses_include_for_a_narrow_select_list():
    access = TableAccess(
        ORDERS, equality=("customer_id",), selected=("customer_id", "total", "created_at")
    )
    result = generate(workload(query("q1", access)))
    covering = [c for c in result.candidates if c.include]
    assert [(c.columns, c.include) for c in covering] == [
        (("customer_id",), ("total", "created_at"))
    ]
    assert any("index-only" in o for o in covering[0].origin)


def test_no_covering_variant_for_wide_or_star_selects_or_without_include():
    star = TableAccess(ORDERS, equality=("customer_id",), selected=None)
    wide = TableAccess(ORDERS, equality=("customer_id",), selected=("note",))
    for access in (star, wide):
        assert not [c for c in generate(workload(query("q", access))).candidates if c.include]
    narrow = TableAccess(ORDERS, equality=("customer_id",), selected=("total",))
    as_key = generate(workload(query("q", narrow)), AdvisorSettings(covering="key"))
    assert {c.columns for c in as_key.candidates} == {("customer_id",), ("customer_id", "total")}
    assert not [c for c in as_key.candidates if c.include]


def test_partial_index_for_a_constant_most_statements_share():
    live = Constant("deleted_at", "deleted_at IS NULL")
    q1 = query("q1", TableAccess(ORDERS, equality=("customer_id",), constants=(live,)), total_ms=80)
    q2 = query("q2", TableAccess(ORDERS, equality=("shop_id",)), total_ms=20)
    result = generate(workload(q1, q2))
    partial = [c for c in result.candidates if c.where]
    assert {(c.columns, c.where) for c in partial} == {
        (("customer_id",), ("deleted_at IS NULL",)),
        (("deleted_at",), ("deleted_at IS NULL",)),
    }
    assert all(c.queries == frozenset({"q1"}) for c in partial)
    # the plain variant is still there for the statements without the predicate
    assert ("customer_id",) in columns_of(result)


def test_constant_in_a_minority_of_statements_gives_no_partial_index():
    live = Constant("deleted_at", "deleted_at IS NULL")
    q1 = query("q1", TableAccess(ORDERS, equality=("customer_id",), constants=(live,)), total_ms=20)
    q2 = query("q2", TableAccess(ORDERS, equality=("shop_id",)), total_ms=80)
    assert not [c for c in generate(workload(q1, q2)).candidates if c.where]


def test_low_selectivity_column_is_rejected_with_its_reason():
    access = TableAccess(ORDERS, equality=("status",))
    result = generate(workload(query("q1", access)))
    assert result.candidates == ()
    (rejection,) = result.rejected
    assert rejection.columns == ("status",)
    assert "not selective" in rejection.reason and "25%" in rejection.reason
    assert rejection.schema == "public" and rejection.table == "orders"


def test_low_selectivity_column_still_leads_a_sort():
    access = TableAccess(
        ORDERS, equality=("status",), order_by=(SortKey("created_at"),), limit=True
    )
    cols = columns_of(generate(workload(query("q1", access))))
    assert ("status", "created_at") in cols


def test_tiny_table_is_rejected():
    tiny = TableFacts(TINY, rows=40, columns={"key": ColumnFacts("key", n_distinct=-1)})
    access = TableAccess(TINY, equality=("key",))
    result = generate(workload(query("q1", access), extra=[tiny]))
    assert result.candidates == ()
    assert ["tiny table" in r.reason for r in result.rejected] == [True]


def test_what_an_existing_index_serves_is_rejected():
    existing = ExistingIndex("orders_shop_customer", ORDERS, ("shop_id", "customer_id", "total"))
    facts = orders_facts(pk(), existing)
    access = TableAccess(ORDERS, equality=("customer_id", "shop_id"), range=("created_at",))
    result = generate(workload(query("q1", access), facts=facts))
    served = {r.columns for r in result.rejected if "already served" in r.reason}
    # any order of the lookup columns, or a leading prefix
    assert ("customer_id", "shop_id") in served
    assert ("shop_id",) in served
    # customer_id alone is not a leading column of the existing index
    assert ("customer_id",) in columns_of(result)
    assert ("customer_id", "shop_id", "created_at") in columns_of(result)


def test_invalid_or_partial_existing_index_does_not_serve():
    broken = ExistingIndex("broken", ORDERS, ("customer_id",), valid=False)
    partial = ExistingIndex("part", ORDERS, ("customer_id",), where=("deleted_at IS NULL",))
    facts = orders_facts(pk(), broken, partial)
    access = TableAccess(ORDERS, equality=("customer_id",))
    result = generate(workload(query("q1", access), facts=facts))
    assert ("customer_id",) in columns_of(result)


def test_existing_index_serves_sort_only_in_a_compatible_direction():
    asc = ExistingIndex("by_created", ORDERS, ("created_at", "id"))
    facts = orders_facts(pk(), asc)
    mixed = TableAccess(
        ORDERS, order_by=(SortKey("created_at"), SortKey("id", descending=True)), limit=True
    )
    result = generate(workload(query("q1", mixed), facts=facts))
    assert ("created_at", "id") in {c.columns for c in result.candidates}
    same = TableAccess(ORDERS, order_by=(SortKey("created_at", descending=True),), limit=True)
    result = generate(workload(query("q1", same), facts=facts))
    assert result.candidates == ()
    assert "already served by index by_created" in result.rejected[0].reason


def test_candidates_from_several_statements_merge():
    q1 = query("q1", TableAccess(ORDERS, equality=("customer_id",)))
    q2 = query("q2", TableAccess(ORDERS, join=("customer_id",)))
    (cand,) = generate(workload(q1, q2)).candidates
    assert cand.queries == frozenset({"q1", "q2"})
    assert set(cand.origin) == {"equality on customer_id", "join on customer_id"}


def test_candidate_budget_keeps_the_most_used():
    heavy = query("heavy", TableAccess(ORDERS, equality=("customer_id",)), total_ms=1000)
    light = query("light", TableAccess(ORDERS, equality=("shop_id",)), total_ms=1)
    result = generate(workload(heavy, light), AdvisorSettings(max_candidates=1))
    assert [c.columns for c in result.candidates] == [("customer_id",)]
    assert "not evaluated" in result.rejected[0].reason


def test_key_column_limit():
    access = TableAccess(
        ORDERS, equality=("customer_id", "shop_id", "total"), range=("created_at",)
    )
    result = generate(workload(query("q1", access)), AdvisorSettings(max_key_columns=3))
    assert max(len(c.columns) for c in result.candidates) == 3


def test_estimated_size_follows_widths_rows_and_the_partial_predicate():
    from dbtop.analysis.advisor import Candidate, estimated_size

    facts = orders_facts(pk())
    narrow = estimated_size(Candidate(ORDERS, ("shop_id",)), facts)
    wide = estimated_size(Candidate(ORDERS, ("shop_id",), include=("note",)), facts)
    # 1M entries of 8 aligned bytes plus 12 of overhead, pages 90% full
    assert 20_000_000 < narrow < 25_000_000
    assert wide > 10 * narrow
    partial = estimated_size(
        Candidate(ORDERS, ("customer_id",), where=("deleted_at IS NOT NULL",)), facts
    )
    assert partial < narrow / 10  # deleted_at is NULL in 95% of the rows


def test_an_update_of_unindexed_columns_stays_hot_and_costs_no_upkeep():
    from dbtop.analysis.advisor import Candidate
    from dbtop.analysis.advisor.writes import TableWrites, Write, maintenance

    facts = orders_facts(pk())
    cand = Candidate(ORDERS, ("customer_id",))
    writes = TableWrites(
        ORDERS,
        (
            Write("u1", "UPDATE", 10, 100.0, frozenset({"note"})),
            Write("u2", "UPDATE", 10, 100.0, frozenset({"customer_id"})),
            Write("d1", "DELETE", 10, 100.0),
            Write("i1", "INSERT", 10, 100.0),
        ),
    )
    share, paying = maintenance(cand, writes, facts, total_ms=1000.0)
    assert [w.query_id for w in paying] == ["u2", "i1"]
    # one index (the primary key) today: one more is a third of the work of each
    assert share == pytest.approx(200.0 / 3 / 1000.0)


def test_the_existing_indexes_a_suggestion_makes_redundant():
    from dbtop.analysis.advisor import Candidate
    from dbtop.analysis.advisor.replacement import made_redundant

    shop = ExistingIndex("o_shop", ORDERS, ("shop_id",))
    shop_status = ExistingIndex("o_shop_status", ORDERS, ("shop_id", "status"))
    unique = ExistingIndex("o_shop_u", ORDERS, ("shop_id",), unique=True)
    other = ExistingIndex("o_status", ORDERS, ("status",))
    partial = ExistingIndex("o_shop_live", ORDERS, ("shop_id",), where=("deleted_at IS NULL",))
    facts = orders_facts(pk(), shop, shop_status, unique, other, partial)
    cand = Candidate(ORDERS, ("shop_id", "status", "created_at"), lookups=2)
    # a full index serves a partial one's statements; a unique one is a rule, not a read
    assert [i.name for i in made_redundant(cand, facts)] == [
        "o_shop",
        "o_shop_status",
        "o_shop_live",
    ]
    live = Candidate(ORDERS, ("shop_id", "created_at"), where=("deleted_at IS NULL",))
    assert [i.name for i in made_redundant(live, facts)] == ["o_shop_live"]


def test_a_replacement_is_refused_where_hiding_the_old_index_costs_a_statement():
    from dbtop.engines.postgresql.replacements import _costs_more

    before = {"a": 100.0, "b": 8.0, "c": None}
    assert _costs_more(before, {"a": 104.0, "b": 8.2, "c": 5.0}, 0.05) is None
    assert _costs_more(before, {"a": 104.0, "b": 12.0}, 0.05) == ("b", 8.0, 12.0)
