"""The time bar: where the shown sample sits on the time line, and the gaps in it.

One line: the first sample's time, the bar (``━`` recorded, ``╌`` a gap, ``●`` the
position), the last sample's time. Shown in replay, and in the live UI while the history
is scrubbed. It reads the app's ``timeline`` when it renders; the screen refreshes it
after each move.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from rich.text import Text
from textual.widget import Widget


def _clock(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).astimezone().strftime("%H:%M:%S")


def bar_cells(
    times: Sequence[float], gaps: Sequence[tuple[float, float]], position: int | None, width: int
) -> tuple[str, int | None]:
    """The bar's characters over ``width`` cells, and the cell of the position."""
    if width <= 0 or not times:
        return "", None
    first, last = times[0], times[-1]
    span = max(last - first, 1e-9)

    def cell(at: float) -> int:
        return min(int((at - first) / span * (width - 1) + 0.5), width - 1)

    cells = ["━"] * width
    for start, end in gaps:
        for n in range(cell(max(start, first)) + 1, cell(min(end, last))):
            cells[n] = "╌"
    at = cell(times[position]) if position is not None else None
    if at is not None:
        cells[at] = "●"
    return "".join(cells), at


class TimeBar(Widget):
    DEFAULT_CSS = """
    TimeBar { height: 1; width: 1fr; }
    TimeBar .timebar--gap { color: $warning; }
    TimeBar .timebar--position { color: $accent; text-style: bold; }
    TimeBar .timebar--label { color: $text-muted; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "timebar--gap",
        "timebar--position",
        "timebar--label",
    }

    def render(self) -> Text:
        timeline: Any = getattr(self.app, "timeline", None)
        line = Text(no_wrap=True, overflow="ellipsis")
        if timeline is None or not timeline.times:
            return line
        times = timeline.times
        position = timeline.position()
        left = _clock(times[0])
        right = _clock(times[-1])
        here = f" {position + 1 if position is not None else 0}/{len(times)} "
        width = self.size.width - len(left) - len(right) - len(here) - 2
        cells, _ = bar_cells(times, timeline.gaps(), position, max(width, 0))
        label = self.get_component_rich_style("timebar--label", partial=True)
        line.append(left + " ", label)
        for char in cells:
            if char == "●":
                line.append(char, self.get_component_rich_style("timebar--position", partial=True))
            elif char == "╌":
                line.append(char, self.get_component_rich_style("timebar--gap", partial=True))
            else:
                line.append(char)
        line.append(" " + right, label)
        line.append(here, label)
        return line
