"""The filter box (``/``): what is typed narrows the table it was opened on, as typed;
Enter keeps the filter, Escape clears it, and either closes the box (``FilterInput.Done``)."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Input

from dbtop.ui.widgets.rowtable import RowTable


class FilterInput(Input):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "clear_filter", "Clear filter", id="filter.clear"),
    ]

    class Done(Message):
        """Enter or Escape: the filter is kept (or cleared); the box may close."""

        def __init__(self, table: RowTable | None) -> None:
            super().__init__()
            self.table = table

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(
            placeholder="filter: text in any column (Enter keeps, Escape clears)", id=id
        )
        self.cursor_blink = False
        #: the table the filter applies to
        self.table: RowTable | None = None

    def edit(self, table: RowTable) -> None:
        """Filter ``table``, starting from its current filter."""
        self.table = table
        self.value = table.filter_text

    def action_clear_filter(self) -> None:
        self.value = ""
        self.post_message(self.Submitted(self, ""))

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        if self.table is not None:
            self.table.set_filter(event.value)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.table is not None:
            self.table.set_filter(event.value)
        self.post_message(self.Done(self.table))
