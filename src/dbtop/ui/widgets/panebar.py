"""One line naming the four panes, the shown one highlighted (the tabs of a small terminal).

A single line, not Textual's two-line Tabs: at 80x24 every line is a row of sessions.
Clicking a name shows that pane.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.message import Message
from textual.widget import Widget

from dbtop.safetext import one_line


class PaneBar(Widget):
    DEFAULT_CSS = Path(__file__).with_suffix(".tcss").read_text(encoding="utf-8")

    COMPONENT_CLASSES: ClassVar[set[str]] = {"panebar--active", "panebar--key"}

    class Chosen(Message):
        def __init__(self, pane_id: str) -> None:
            super().__init__()
            self.pane_id = pane_id

    def __init__(
        self,
        panes: list[tuple[str, str]],
        *,
        numbers: Mapping[str, int] | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self._panes = list(panes)
        #: the key of each pane (its place in the list when not given)
        self.numbers = dict(numbers or {})
        self.active = panes[0][0] if panes else ""
        self._spans: list[tuple[int, int, str]] = []

    def set_labels(self, labels: list[tuple[str, str]]) -> None:
        if labels != self._panes:
            self._panes = list(labels)
            self.refresh()

    def set_active(self, pane_id: str) -> None:
        if pane_id != self.active:
            self.active = pane_id
            self.refresh()

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        active = self.get_component_rich_style("panebar--active", partial=True)
        key = self.get_component_rich_style("panebar--key", partial=True)
        self._spans = []
        for place, (pane_id, label) in enumerate(self._panes, 1):
            number = self.numbers.get(pane_id, place)
            if place > 1:
                text.append("  ")
            start = text.cell_len
            style = active if pane_id == self.active else None
            text.append(f" {number} ", key + style if style else key)
            text.append(one_line(label) + " ", style or "")
            self._spans.append((start, text.cell_len, pane_id))
        return text

    def on_click(self, event: events.Click) -> None:
        for start, end, pane_id in self._spans:
            if start <= event.x < end:
                self.post_message(self.Chosen(pane_id))
                return
