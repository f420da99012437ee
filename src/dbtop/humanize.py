"""Short human figures for table cells and reports: sizes, durations, counts.

Shared by the live UI and the CLI's reports, so both say the same figure the same way.
"""

from __future__ import annotations

from dbtop.model import LockWait, PlanNode


def human_bytes(value: float | None) -> str:
    if value is None:
        return "-"
    size = float(value)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(size) < 1024 or unit == "PB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} PB"


def human_seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 0:
        value = 0.0
    if value < 1:
        return f"{value * 1000:.0f}ms"
    if value < 100:
        return f"{value:.1f}s"
    minutes, seconds = divmod(int(value), 60)
    if minutes < 100:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    return f"{hours // 24}d{hours % 24:02d}h"


def human_ms(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 1:
        return f"{value:.3f}ms"
    if value < 1000:
        return f"{value:.1f}ms"
    return human_seconds(value / 1000)


def count(value: float | None) -> str:
    """A count with thousands separators; large ones shortened (12.3M)."""
    if value is None:
        return "-"
    magnitude = abs(value)
    if magnitude >= 1e9:
        return f"{value / 1e9:.1f}G"
    if magnitude >= 1e6:
        return f"{value / 1e6:.1f}M"
    if float(value).is_integer() or magnitude >= 1000:
        return f"{round(value):,}"
    return f"{value:,.1f}"


def plan_figures(node: PlanNode) -> list[str]:
    """A plan node's estimate and, when analyzed, what really happened."""
    figures = []
    if node.total_cost is not None:
        figures.append(f"cost {node.startup_cost or 0:.2f}..{node.total_cost:.2f}")
    if node.rows is not None:
        figures.append(f"rows {node.rows:,.0f}")
    if node.actual_ms is not None:
        figures.append(f"actual {node.actual_ms:,.3f}ms")
    if node.actual_rows is not None:
        figures.append(f"actual rows {node.actual_rows:,.0f}")
    if node.loops not in (None, 1):
        figures.append(f"loops {node.loops}")
    return figures


def inferred_marker(wait: LockWait | None) -> str:
    """``(inferred: open transaction since 12:03:04)`` for an edge the engine did not report
    but dbtop deduced; empty for a reported one. Shown wherever the edge is drawn, so a
    guessed holder is never taken for a known one."""
    if wait is None or not wait.extra.get("inferred"):
        return ""
    reason = wait.extra.get("inferred_reason")
    return f"(inferred: {reason})" if isinstance(reason, str) and reason else "(inferred)"


def no_holder(wait: LockWait | None) -> str:
    """``waiting on a list (BLPOP)`` for an edge whose blocker is no session (a Redis client
    waiting for data): the node above it is a group, never to be read as a holder; empty
    for an edge to a real holder."""
    phrase = wait.extra.get("no_holder") if wait is not None else None
    return phrase if isinstance(phrase, str) else ""


def margin_suffix(value: object) -> str:
    """`` ±56`` after a sampled estimate with a 95 % margin (Redis key patterns), empty when
    the figure is exact or the engine states no margin."""
    if not isinstance(value, int | float) or value <= 0:
        return ""
    return f" ±{value:,.0f}"


def margin_suffix_bytes(value: object) -> str:
    """`` ±1.2 KB`` after a sampled memory estimate; empty when exact or unstated."""
    if not isinstance(value, int) or value <= 0:
        return ""
    return f" ±{human_bytes(value)}"
