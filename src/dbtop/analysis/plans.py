"""Reading a plan tree: which node the time or cost goes to."""

from __future__ import annotations

from dbtop.model import PlanNode


def own_weight(node: PlanNode) -> float:
    """What the node costs on its own: its total minus its children's.

    Actual time (per loop times loops) wins over estimated cost when the plan was analyzed.
    """
    if node.actual_ms is not None:
        total = node.actual_ms * (node.loops or 1)
        kids = sum((c.actual_ms or 0.0) * (c.loops or 1) for c in node.children)
    else:
        total = node.total_cost or 0.0
        kids = sum(c.total_cost or 0.0 for c in node.children)
    return max(total - kids, 0.0)


def costliest(root: PlanNode) -> PlanNode:
    """The node to highlight in a plan view."""
    return max(root.walk(), key=own_weight)
