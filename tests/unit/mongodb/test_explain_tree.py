"""Explain output to a PlanNode tree: classic, slot-based, sharded, aggregation; commands
prepared for explain; writes never analyzed."""

import pytest

from dbtop.engines.mongodb import explain
from dbtop.errors import QueryError, RefusedError
from tests.integration.mongodb import fixtures as fx


def test_classic_plan_with_execution_stats():
    doc = fx.explain_collscan_sort(
        "shop.orders", {"customer_id": 1}, {"created_at": -1}, analyzed=True
    )
    root = explain.plan_tree(doc)
    assert [n.name for n in root.walk()] == ["SORT", "COLLSCAN"]
    assert root.detail == "by { created_at: -1 } in memory limit 20"
    assert root.actual_rows == 20 and root.actual_ms == 1210
    scan = root.children[0]
    assert scan.extra["docsExamined"] == 1_200_000
    assert scan.detail == "filter { customer_id: 1 }"
    notes = explain.notes(doc, root, analyzed=True)
    assert any("examined 0 key(s) and 1200000 document(s)" in n for n in notes)
    assert any("60,000 documents per document returned" in n for n in notes)
    assert any(n.startswith("COLLSCAN") for n in notes)
    assert any(n.startswith("SORT in memory") for n in notes)


def test_index_scan_detail():
    root = explain.plan_tree(fx.explain_ixscan("shop.customers", {"email": "a"}))
    ixscan = root.children[0]
    assert ixscan.name == "IXSCAN"
    assert ixscan.detail.startswith("email_1 { email: 1 } bounds email:")
    assert root.actual_rows is None  # queryPlanner only
    notes = explain.notes(fx.explain_ixscan("shop.customers", {}), root, analyzed=False)
    assert notes == ("1 other plan(s) considered and rejected",)


def test_aggregation_stages_are_a_chain():
    root = explain.plan_tree(fx.explain_aggregate("shop.events"))
    assert [n.name for n in root.walk()] == ["$sort", "$group", "PROJECTION_SIMPLE", "COLLSCAN"]


def test_sharded_plan_has_one_branch_per_shard():
    root = explain.plan_tree(fx.explain_sharded("shop.orders", {"a": 1}))
    assert root.name == "SHARD_MERGE"
    assert [c.detail for c in root.children] == ["shard01", "shard02"]
    assert root.children[0].children[0].name == "SHARDING_FILTER"


def test_slot_based_engine_query_plan():
    doc = {
        "explainVersion": "2",
        "queryPlanner": {
            "winningPlan": {
                "queryPlan": {
                    "stage": "GROUP",
                    "planNodeId": 3,
                    "inputStage": {"stage": "COLLSCAN", "planNodeId": 1, "direction": "forward"},
                },
                "slotBasedPlan": {"slots": "...", "stages": "[3] hash_agg ..."},
            },
            "rejectedPlans": [],
        },
        "executionStats": {
            "nReturned": 3,
            "executionTimeMillis": 5,
            "totalKeysExamined": 0,
            "totalDocsExamined": 900,
            "executionStages": {"stage": "hash_agg", "planNodeId": 3},
        },
        "ok": 1,
    }
    root = explain.plan_tree(doc)
    assert [n.name for n in root.walk()] == ["GROUP", "COLLSCAN"]
    assert root.extra["planNodeId"] == 3
    assert "slot-based engine" in " ".join(explain.notes(doc, root, analyzed=True))


def test_no_winning_plan_is_an_error():
    with pytest.raises(QueryError):
        explain.plan_tree({"ok": 1})


def test_prepare_strips_the_envelope_and_refuses_other_commands():
    prepared = explain.prepare(
        {
            "find": "o",
            "filter": {},
            "lsid": {"id": 1},
            "$db": "shop",
            "txnNumber": 5,
            "readConcern": {"level": "snapshot"},
            "maxTimeMS": 5,
        }
    )
    assert prepared == {"find": "o", "filter": {}}
    with pytest.raises(QueryError, match="createIndexes cannot be explained"):
        explain.prepare({"createIndexes": "o", "indexes": []})


def test_from_operation():
    db, command = explain.from_operation(
        "303",
        {
            "op": "update",
            "ns": "shop.orders",
            "command": {"q": {"_id": 1}, "u": {"$set": {"a": 1}}, "multi": False},
        },
    )
    assert db == "shop"
    assert command == {
        "update": "orders",
        "updates": [{"q": {"_id": 1}, "u": {"$set": {"a": 1}}, "multi": False}],
    }
    db, command = explain.from_operation(
        "505",
        {
            "op": "getmore",
            "ns": "shop.orders",
            "command": {"getMore": 1, "collection": "orders"},
            "cursor": {"originatingCommand": {"find": "orders", "filter": {"a": 1}, "$db": "shop"}},
        },
    )
    assert command == {"find": "orders", "filter": {"a": 1}}
    with pytest.raises(QueryError, match="truncated"):
        explain.from_operation("1", {"ns": "a.b", "command": {"$truncated": "{ find"}})
    with pytest.raises(QueryError, match="no command"):
        explain.from_operation("1", {"ns": "a.b"})


def test_writes_are_never_analyzed():
    assert explain.is_write({"update": "o", "updates": []})
    assert explain.is_write({"findAndModify": "o"})
    assert explain.is_write({"aggregate": "o", "pipeline": [{"$match": {}}, {"$out": "x"}]})
    assert not explain.is_write({"aggregate": "o", "pipeline": [{"$match": {}}]})
    assert not explain.is_write({"find": "o"})
    with pytest.raises(RefusedError, match="runs the command"):
        explain.check_analyze({"delete": "o", "deletes": []})
    explain.check_analyze({"find": "o"})
