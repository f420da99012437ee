"""What every pane shares: a bordered box titled with its number and the engine's label,
the notices that concern it, one or more row tables, and the selection the action keys
(kill, explain, details) act on."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.geometry import Region
from textual.widgets import Static

from dbtop.model import Feature, Notice, PaneLabels
from dbtop.poller import PollResult
from dbtop.safetext import one_line
from dbtop.ui.literal import title as literal_title
from dbtop.ui.widgets.rowtable import RowTable


@dataclass(frozen=True, slots=True)
class Selection:
    """The row under the cursor, as the action keys see it."""

    #: "session", "statement", "slow_event", "index", "table", "key_pattern", "lock"
    kind: str
    title: str
    item: Any
    session_id: str | None = None
    #: the text ``e`` explains when there is no session to explain
    query: str | None = None


@dataclass(frozen=True, slots=True)
class ViewOptions:
    """The user's view choices that change what a pane shows."""

    show_idle: bool = False
    #: an active statement running longer than this stands out
    long_query_s: float = 10.0


class Pane(Vertical):
    """Base of the four panes; subclasses fill :meth:`compose_tables` and :meth:`update`."""

    DEFAULT_CSS = Path(__file__).with_name("pane.tcss").read_text(encoding="utf-8")

    pane_id: ClassVar[str]
    number: ClassVar[int]
    #: the features whose notices this pane shows
    features: ClassVar[frozenset[Feature]]

    def __init__(self) -> None:
        super().__init__(id=f"pane-{self.pane_id}", classes="pane")
        self.result: PollResult | None = None
        self._pane_label = self.default_label(PaneLabels())
        self._counts = ""
        self._notices_shown: tuple[Notice, ...] | None = None
        self._update_title()

    # -- subclass hooks -----------------------------------------------------------------

    @classmethod
    def default_label(cls, labels: PaneLabels) -> str:
        raise NotImplementedError

    def compose_tables(self) -> ComposeResult:
        raise NotImplementedError

    def update(self, result: PollResult, view: ViewOptions) -> None:
        """Show ``result``; called only while the pane is on screen (or about to be)."""
        raise NotImplementedError

    def selection(self) -> Selection | None:
        raise NotImplementedError

    def refresh_counts(self) -> None:
        """Recompute the row counts in the border (after an update or a new filter)."""
        parts = []
        for table in self.visible_tables:
            shown = f"{table.row_count}"
            if table.row_count != table.total_count:
                shown += f" of {table.total_count}"
            shown += f" {table.noun}"
            if table.filter_text:
                shown += f" /{table.filter_text}"
            parts.append(shown)
        self.set_counts(" · ".join(parts))

    # -- shared behaviour ---------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static("", classes="pane-notices")
        yield from self.compose_tables()

    @property
    def label(self) -> str:
        return self._pane_label

    @property
    def tables(self) -> list[RowTable]:
        return list(self.query(RowTable))

    @property
    def visible_tables(self) -> list[RowTable]:
        return [t for t in self.tables if t.display]

    @property
    def active_table(self) -> RowTable | None:
        """The table the user is in (focused), else the first one shown."""
        focused = self.screen.focused if self.is_attached else None
        for table in self.visible_tables:
            if table is focused:
                return table
        visible = self.visible_tables
        return visible[0] if visible else None

    def show(self, result: PollResult, view: ViewOptions) -> None:
        self.result = result
        self._pane_label = self.default_label(result.snapshot.capabilities.labels)
        snapshot = result.snapshot
        self._show_notices(
            n
            for n in (*snapshot.capabilities.notices, *snapshot.notices)
            if n.feature in self.features
        )
        self.update(result, view)
        self._update_title()

    def set_counts(self, text: str) -> None:
        self._counts = text
        self._update_title()

    def _update_title(self) -> None:
        # Set only on change: a new border repaints the whole pane, tables included.
        # Compared as plain text kept here: the border getters return markup, and the
        # counts can hold a filter the user typed (shown literally, as Content).
        title = f"{self.number} {self._pane_label}"
        subtitle = self._counts or None
        if getattr(self, "_shown_title", None) != title:
            self._shown_title = title
            self.border_title = literal_title(title)
        if getattr(self, "_shown_subtitle", None) != subtitle:
            self._shown_subtitle = subtitle
            self._set_subtitle(None if subtitle is None else literal_title(subtitle))

    def _set_subtitle(self, subtitle: Content | None) -> None:
        """New counts: only the bottom border line, where they are drawn, is painted again.

        Setting ``border_subtitle`` repaints the whole pane and the tables in it, and on a
        busy server the counts move at most polls (a session between two statements is
        idle for a moment). The subtitle is stored as the setter stores it.
        """
        outer = self.outer_size
        drawn = self.styles.border_bottom[0] not in ("", "none", "hidden")
        if not self.is_mounted or outer.height < 1 or not drawn:
            self.border_subtitle = subtitle
            return
        self._border_subtitle = (
            None if subtitle is None else self.render_str(subtitle).expand_tabs(4).split()[0]
        )
        offset = self.content_offset  # refresh regions are given in content coordinates
        self.refresh(Region(-offset.x, outer.height - 1 - offset.y, outer.width, 1))

    def _show_notices(self, notices: Iterable[Notice]) -> None:
        shown = tuple(notices)
        if shown == self._notices_shown:
            return
        self._notices_shown = shown
        lines = [
            Text("! ")
            + Text(one_line(n.message))
            + (Text(" — " + one_line(n.hint)) if n.hint else Text(""))
            for n in shown
        ]
        box = self.query_one(".pane-notices", Static)
        box.update(Text("\n").join(lines) if lines else "")
        box.display = bool(lines)

    @on(RowTable.Filtered)
    def _filtered(self) -> None:
        self.refresh_counts()

    def focus_table(self) -> None:
        table = self.active_table
        if table is not None:
            table.focus()

    def focus_next_table(self) -> None:
        """The pane's next table shown (after the last, the first again)."""
        tables = self.visible_tables
        if not tables:
            return
        current = self.active_table
        index = tables.index(current) if current in tables else -1
        tables[(index + 1) % len(tables)].focus()


def natural(value: str) -> tuple[int, int | str]:
    """Numeric ids sort as numbers, others as text, in one comparable key."""
    return (0, int(value)) if value.isdigit() else (1, value.casefold())
