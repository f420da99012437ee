"""Short human figures for table cells: sizes, durations, counts, rates."""

from __future__ import annotations

from datetime import datetime

# The figures the CLI prints too: one definition for both.
from dbtop.humanize import count, human_bytes, human_ms, human_seconds

__all__ = ["clock", "count", "human_bytes", "human_ms", "human_seconds", "percent", "rate"]


def rate(value: float | None) -> str:
    """A per-second figure: blank when unknown, two decimals when small."""
    if value is None:
        return ""
    if value == 0:
        return "0"
    if abs(value) < 10:
        return f"{value:.2f}"
    return count(round(value, 1))


def percent(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value * 100:.{digits}f}%"


def clock(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%H:%M:%S")
