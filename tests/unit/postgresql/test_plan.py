"""EXPLAIN JSON to PlanNode (engines/postgresql/plan.py) and the costliest node
(analysis/plans.py): pure functions on documents shaped like PostgreSQL's output."""

from __future__ import annotations

import pytest

from dbtop.analysis.plans import costliest, own_weight
from dbtop.engines.postgresql.plan import root_from_explain

EXPLAINED = [
    {
        "Plan": {
            "Node Type": "Hash Join",
            "Join Type": "Inner",
            "Hash Cond": "(o.customer_id = c.id)",
            "Startup Cost": 10.0,
            "Total Cost": 500.0,
            "Plan Rows": 100,
            "Actual Total Time": 40.0,
            "Actual Rows": 90,
            "Actual Loops": 1,
            "Plans": [
                {
                    "Node Type": "Seq Scan",
                    "Relation Name": "orders",
                    "Schema": "public",
                    "Alias": "o",
                    "Filter": "(status = 'open'::text)",
                    "Rows Removed by Filter": 99000,
                    "Total Cost": 450.0,
                    "Plan Rows": 1000,
                    "Actual Total Time": 35.0,
                    "Actual Rows": 1000,
                    "Actual Loops": 1,
                },
                {
                    "Node Type": "Index Scan",
                    "Index Name": "customers_pkey",
                    "Relation Name": "customers",
                    "Parallel Aware": True,
                    "Index Cond": "(id = 1)",
                    "Total Cost": 8.0,
                    "Plan Rows": 1,
                    "Actual Total Time": 0.1,
                    "Actual Rows": 1,
                    "Actual Loops": 10,
                },
            ],
        },
        "Planning Time": 0.2,
        "Execution Time": 41.0,
    }
]


def test_tree_names_details_and_figures():
    root, figures = root_from_explain(EXPLAINED)
    assert root.name == "Hash Join"
    assert root.detail == "Inner; on (o.customer_id = c.id)"
    seq, idx = root.children
    assert seq.name == "Seq Scan on public.orders o"
    assert "filter (status = 'open'::text)" in seq.detail
    assert "removed 99000 rows" in seq.detail
    assert idx.name == "Parallel Index Scan using customers_pkey on customers"
    assert idx.loops == 10 and idx.actual_rows == 1
    assert figures == {"Planning Time": 0.2, "Execution Time": 41.0}
    assert "Plans" not in root.extra and root.extra["Node Type"] == "Hash Join"


def test_costliest_node_uses_actual_time_when_analyzed():
    root, _ = root_from_explain(EXPLAINED)
    assert costliest(root).name.startswith("Seq Scan")
    assert own_weight(root) == pytest.approx(40.0 - 35.0 - 1.0)


def test_costliest_node_uses_cost_without_analyze():
    plan = [
        {
            "Plan": {
                "Node Type": "Sort",
                "Total Cost": 900.0,
                "Plans": [{"Node Type": "Seq Scan", "Relation Name": "t", "Total Cost": 100.0}],
            }
        }
    ]
    root, _ = root_from_explain(plan)
    assert costliest(root).name == "Sort"


def test_modify_table_is_named_by_its_operation():
    root, _ = root_from_explain(
        [{"Plan": {"Node Type": "ModifyTable", "Operation": "Delete", "Relation Name": "t"}}]
    )
    assert root.name == "Delete on t"


def test_a_document_without_a_plan_is_an_error():
    with pytest.raises(ValueError):
        root_from_explain([{"nothing": 1}])
