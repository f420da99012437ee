"""Without hypopg: what the current plans say about the tables a workload reads badly.

A sequential scan that keeps at most ``SEQ_SCAN_KEEPS`` of a large table's rows (or feeds a
sort under a LIMIT) makes that table's candidates eligible, with the plan's words as their
evidence; the heuristic model then ranks them and the suggestions are marked unverified.
A statement on a partitioned table scans its partitions: such a scan makes the candidates
on the partitioned root eligible too (an index there is an index on each partition).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dbtop.analysis.advisor import (
    AdvisorSettings,
    Candidate,
    Choice,
    Effect,
    Selection,
    TableRef,
    Workload,
)
from dbtop.engines.postgresql.hypopg import PlannerOracle
from dbtop.model import Rejection

#: a sequential scan "filters most rows" when it keeps at most this share of the table
SEQ_SCAN_KEEPS = 0.1


async def plan_analysis(
    oracle: PlannerOracle,
    workload: Workload,
    candidates: Sequence[Candidate],
    settings: AdvisorSettings,
    leaf_rows: Mapping[TableRef, float],
) -> tuple[list[Candidate], list[Rejection], dict[str, float], dict[Candidate, str]]:
    """Candidates of the (statement, table) pairs whose plan reads the table badly, and
    that evidence per candidate."""
    wanted: dict[tuple[str, TableRef], str] = {}
    plan_costs: dict[str, float] = {}
    plans = await oracle.current_plans(workload.queries, verbose=True)
    for query in workload.queries:
        plan = plans.get(query.id)
        if plan is None:
            continue
        plan_costs[query.id] = float(plan["Total Cost"])
        for table, why in _bad_reads(plan, workload, settings, leaf_rows):
            wanted.setdefault((query.id, table), why)
            root = workload.parents.get(table)
            if root is not None:
                # an index on the partitioned root is an index on this partition
                wanted.setdefault((query.id, root), why)
    kept: list[Candidate] = []
    rejected: list[Rejection] = []
    evidence: dict[Candidate, str] = {}
    for cand in candidates:
        reasons = [wanted[(q, cand.table)] for q in cand.queries if (q, cand.table) in wanted]
        if reasons:
            kept.append(cand)
            evidence[cand] = reasons[0]
        else:
            rejected.append(
                cand.rejection(
                    f"the current plans do not read {cand.table.key} with a sequential scan "
                    "that filters most rows (checked without hypopg)"
                )
            )
    return kept, rejected, plan_costs, evidence


def _bad_reads(
    plan: Mapping[str, Any],
    workload: Workload,
    settings: AdvisorSettings,
    leaf_rows: Mapping[TableRef, float],
) -> Iterable[tuple[TableRef, str]]:
    def walk(node: Mapping[str, Any], under_sort_limit: bool) -> Iterable[tuple[TableRef, str]]:
        kind = node.get("Node Type", "")
        if kind == "Seq Scan" and "Relation Name" in node:
            ref = TableRef(node.get("Schema"), node["Relation Name"])
            facts = workload.tables.get(ref)
            rows = facts.rows if facts is not None else leaf_rows.get(ref)
            if rows is not None and rows >= settings.min_rows:
                kept = float(node.get("Plan Rows", 0))
                if "Filter" in node and kept / max(rows, 1.0) <= SEQ_SCAN_KEEPS:
                    yield (
                        ref,
                        f"Seq Scan on {ref.key} keeps about {kept:,.0f} of "
                        f"{rows:,.0f} rows (Filter: {node['Filter']})",
                    )
                elif under_sort_limit:
                    yield ref, f"Seq Scan on {ref.key} feeds a sort under a LIMIT"
        child_flag = (under_sort_limit or kind == "Limit") and kind in (
            "Limit",
            "Sort",
            "Incremental Sort",
            "Gather Merge",
            "Gather",
        )
        for child in node.get("Plans", ()):
            yield from walk(child, child_flag if kind != "Limit" else True)

    yield from walk(plan, False)


def with_plan_costs(selection: Selection, plan_costs: Mapping[str, float]) -> Selection:
    """Unverified choices report today's planner cost and no cost after."""
    chosen = []
    for choice in selection.chosen:
        effects = tuple(
            Effect(e.query_id, e.share, plan_costs.get(e.query_id, float("nan")), float("nan"))
            for e in choice.effects
        )
        chosen.append(Choice(choice.candidate, effects, choice.benefit))
    return Selection(
        chosen=tuple(chosen),
        rejected=selection.rejected,
        cost_before=selection.cost_before,
        cost_after=selection.cost_after,
        evaluations=selection.evaluations,
    )
