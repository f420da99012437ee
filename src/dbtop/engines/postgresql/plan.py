"""EXPLAIN (FORMAT JSON) output as the engine-neutral PlanNode tree."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dbtop.model import PlanNode, frozen

#: keys shown in a node's one-line detail, in this order, when present
_DETAIL_KEYS = (
    ("Join Type", "{}"),
    ("Strategy", "{}"),
    ("Index Cond", "cond {}"),
    ("Recheck Cond", "recheck {}"),
    ("Hash Cond", "on {}"),
    ("Merge Cond", "on {}"),
    ("Join Filter", "join filter {}"),
    ("Filter", "filter {}"),
    ("Sort Key", "by {}"),
    ("Group Key", "group by {}"),
    ("CTE Name", "CTE {}"),
    ("Subplan Name", "{}"),
)


def _name(node: Mapping[str, Any]) -> str:
    name = str(node.get("Node Type", "?"))
    if name == "ModifyTable" and node.get("Operation"):
        name = str(node["Operation"])  # "Delete on t", as EXPLAIN's text format says
    if node.get("Parallel Aware"):
        name = f"Parallel {name}"
    index = node.get("Index Name")
    relation = node.get("Relation Name")
    if index:
        name += f" using {index}"
    if relation:
        schema = node.get("Schema")
        target = f"{schema}.{relation}" if schema else str(relation)
        alias = node.get("Alias")
        if alias and alias != relation:
            target += f" {alias}"
        name += f" on {target}"
    return name


def _detail(node: Mapping[str, Any]) -> str | None:
    parts = []
    for key, fmt in _DETAIL_KEYS:
        value = node.get(key)
        if value in (None, "", []):
            continue
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        parts.append(fmt.format(value))
    removed = node.get("Rows Removed by Filter")
    if removed:
        parts.append(f"removed {removed} rows")
    return "; ".join(parts) or None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def node_from_json(node: Mapping[str, Any]) -> PlanNode:
    children = tuple(node_from_json(child) for child in node.get("Plans", ()) or ())
    loops = node.get("Actual Loops")
    return PlanNode(
        name=_name(node),
        detail=_detail(node),
        startup_cost=_number(node.get("Startup Cost")),
        total_cost=_number(node.get("Total Cost")),
        rows=_number(node.get("Plan Rows")),
        actual_ms=_number(node.get("Actual Total Time")),
        actual_rows=_number(node.get("Actual Rows")),
        loops=int(loops) if isinstance(loops, int | float) else None,
        children=children,
        extra=frozen({k: v for k, v in node.items() if k != "Plans"}),
    )


def root_from_explain(document: Any) -> tuple[PlanNode, dict[str, Any]]:
    """The plan tree and the top-level figures (planning/execution time) of one EXPLAIN.

    ``document`` is what the server returned: a JSON array with one object holding "Plan".
    """
    top = document[0] if isinstance(document, list) and document else document
    if not isinstance(top, Mapping) or "Plan" not in top:
        raise ValueError("EXPLAIN returned no plan")
    figures = {k: v for k, v in top.items() if k != "Plan"}
    return node_from_json(top["Plan"]), figures
