"""The ESR suggestion: field order, evidence, existing indexes, prefix folding, the statement."""

import pytest

from dbtop.engines.mongodb.advice import (
    CollectionFacts,
    ShapeWork,
    esr_key,
    evidence,
    suggest,
)
from dbtop.engines.mongodb.shapes import shape_of


def shape(filter_doc, sort=None, limit=None, coll="orders", db="shop"):
    command = {"find": coll, "filter": filter_doc}
    if sort:
        command["sort"] = sort
    if limit:
        command["limit"] = limit
    return shape_of(command, namespace=f"{db}.{coll}")


def work(s, *, calls=10, total_ms=5000.0, docs=1_000_000, returned=200, collscans=0, sorts=0):
    return ShapeWork(
        shape=s,
        calls=calls,
        total_ms=total_ms,
        docs_examined=docs,
        keys_examined=0,
        nreturned=returned,
        collscans=collscans,
        in_memory_sorts=sorts,
        plan_summary="COLLSCAN" if collscans else "IXSCAN { x: 1 }",
    )


def facts(*indexes, documents=1_000_000, coll="orders"):
    specs = tuple({"v": 2, "key": key, "name": name, **opts} for name, key, opts in indexes)
    return {("shop", coll): CollectionFacts("shop", coll, documents, 480 * documents, specs)}


ID = ("_id_", {"_id": 1}, {})


def test_esr_order_equality_sort_range():
    key = esr_key(shape({"total": {"$gte": 5}, "customer_id": 7}, sort={"created_at": -1}))
    assert key.fields == ("customer_id", "created_at", "total")
    assert key.directions == (1, -1, 1)
    assert key.lookups == 1
    assert key.why == "ESR: equality on customer_id, then sort on created_at, then range on total"


def test_in_is_an_equality_without_sort_and_a_range_with_one():
    no_sort = esr_key(shape({"status": {"$in": ["A", "B"]}, "qty": {"$gt": 1}}))
    assert no_sort.fields == ("status", "qty") and no_sort.lookups == 1
    with_sort = esr_key(shape({"status": {"$in": ["A", "B"]}, "c": 1}, sort={"ts": 1}))
    assert with_sort.fields == ("c", "ts", "status")


def test_sorted_field_with_equality_is_not_repeated():
    key = esr_key(shape({"a": 1, "b": {"$gt": 1}}, sort={"a": 1, "c": -1}))
    assert key.fields == ("a", "c", "b")
    assert esr_key(shape({})) is None


def test_evidence():
    assert evidence(work(shape({"a": 1}), docs=1_000_000, returned=200)) is not None
    assert evidence(work(shape({"a": 1}), docs=2_000, returned=1_000)) is None
    assert evidence(work(shape({"a": 1}), calls=100, docs=500, returned=5)) is None  # 5 per call
    assert "COLLSCAN" in evidence(work(shape({"a": 1}), docs=0, collscans=3))
    assert "sorts in memory" in evidence(work(shape({"a": 1}), docs=0, sorts=2))


async def test_suggests_an_esr_index_with_mongosh_statement():
    slow = shape({"customer_id": 7, "total": {"$gte": 5}}, sort={"created_at": -1}, limit=20)
    fast = shape({"status": "A"})
    advice = await suggest(
        [
            work(slow, total_ms=9000, collscans=10, sorts=10),
            work(fast, total_ms=1000, docs=200, returned=200),
        ],
        facts(ID),
    )
    assert len(advice.suggestions) == 1
    suggestion = advice.suggestions[0]
    assert suggestion.statement == (
        'db.getSiblingDB("shop").orders.createIndex({ customer_id: 1, created_at: -1, total: 1 })'
    )
    assert suggestion.columns == ("customer_id", "created_at", "total")
    assert not suggestion.verified
    assert suggestion.queries[0].query == slow.text
    assert suggestion.queries[0].share == pytest.approx(0.9)
    assert "ESR: equality on customer_id" in suggestion.reason
    assert "90.0%" in suggestion.reason
    assert suggestion.cost_after < suggestion.cost_before
    assert advice.extra["analyzed"] == 1 and advice.extra["statements"] == 2


async def test_existing_index_prefix_skips_the_candidate():
    s = shape({"status": "A", "qty": {"$gt": 1}}, sort={"ts": -1})
    served = await suggest(
        [work(s)], facts(ID, ("status_1_ts_1_qty_1", {"status": 1, "ts": 1, "qty": 1}, {}))
    )
    assert served.suggestions == ()
    assert served.rejected[0].reason == (
        "already served by index status_1_ts_1_qty_1 through its prefix"
    )
    # a partial or hidden index does not count; a different sort direction order does not
    not_served = await suggest(
        [work(s)],
        facts(
            ID,
            ("p", {"status": 1, "ts": -1, "qty": 1}, {"partialFilterExpression": {"x": 1}}),
            ("h", {"status": 1, "ts": -1, "qty": 1}, {"hidden": True}),
            ("other", {"ts": -1, "status": 1}, {}),
        ),
    )
    assert len(not_served.suggestions) == 1


async def test_a_prefix_candidate_folds_into_the_longer_one():
    short = shape({"status": "A"}, sort={"ts": -1})
    long = shape({"status": "A", "qty": {"$gt": 1}}, sort={"ts": -1})
    advice = await suggest([work(short), work(long)], facts(ID))
    assert [s.columns for s in advice.suggestions] == [("status", "ts", "qty")]
    assert {q.query for q in advice.suggestions[0].queries} == {short.text, long.text}


async def test_small_collections_and_unindexable_shapes():
    advice = await suggest(
        [
            work(shape({"a": 1}, coll="tiny")),
            work(shape({"$or": [{"a": 1}, {"b": 2}]})),
        ],
        {**facts(ID, coll="tiny", documents=500), **facts(ID)},
    )
    assert advice.suggestions == ()
    assert "small collection" in advice.rejected[0].reason
    assert any("$or" in n.message for n in advice.notices)


async def test_nothing_to_do():
    advice = await suggest([], {})
    assert advice.suggestions == () and advice.notices == ()
