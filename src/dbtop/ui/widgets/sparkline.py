"""Sparklines as text: eight block heights, so they work in any font and over SSH."""

from __future__ import annotations

from collections.abc import Sequence

BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float | None], width: int, *, floor: float | None = 0.0) -> str:
    """The last ``width`` values as blocks scaled between their min (or ``floor``) and max.

    Unknown values are blanks; a flat series draws the lowest block, so "nothing is
    happening" still shows a line.
    """
    if width <= 0:
        return ""
    recent = list(values)[-width:]
    known = [v for v in recent if v is not None]
    if not known:
        return " " * width
    low = min(known) if floor is None else min(floor, min(known))
    high = max(known)
    span = high - low
    top = len(BLOCKS) - 1
    chars = []
    for value in recent:
        if value is None:
            chars.append(" ")
        elif span <= 0:
            chars.append(BLOCKS[0])
        else:
            chars.append(BLOCKS[round((value - low) / span * top)])
    return " " * (width - len(chars)) + "".join(chars)
