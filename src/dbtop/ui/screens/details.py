"""Every field of one row (session, statement, index …), with the full query text in a
read-only text area: select it with the mouse, or ``c`` copies it to the clipboard. A
statement's other counters (rows or documents examined, temp tables …) get a table of
their own: each one's total and its rate over the last interval."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static, TextArea

from dbtop.model import Session
from dbtop.safetext import literal, one_line
from dbtop.ui.literal import title as literal_title
from dbtop.ui.screens.field_names import field_label

#: fields shown as the big text, not as a table row
TEXT_FIELDS = ("query", "statement", "definition")


def field_rows(item: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(name, value) for every field of a model object, ``extra`` flattened."""
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        for f in dataclasses.fields(item):
            value = getattr(item, f.name)
            if f.name in TEXT_FIELDS and not prefix:
                continue
            nested = dataclasses.is_dataclass(value) and not isinstance(value, type)
            if nested or isinstance(value, Mapping):
                yield from field_rows(value, f"{prefix}{f.name}.")
            else:
                yield prefix + f.name, show_value(value)
    elif isinstance(item, Mapping):
        for key, value in item.items():
            if isinstance(value, Mapping):
                yield from field_rows(value, f"{prefix}{key}.")
            else:
                yield f"{prefix}{key}", show_value(value)


def show_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="milliseconds")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    if isinstance(value, tuple | list | set | frozenset):
        return ", ".join(show_value(v) for v in value) or "-"
    return one_line(value, 2000)


def counter_table(counters: Mapping[str, float], rates: Mapping[str, float] | None) -> Table:
    """One line per counter: its name, its total, and its rate per second ("-" when the
    interval gave none: a first poll, a reset)."""
    table = Table(box=None, padding=(0, 2), show_edge=False)
    table.add_column("counter", style="bold", no_wrap=True)
    table.add_column("total", justify="right", no_wrap=True)
    table.add_column("per second", justify="right", no_wrap=True)
    for name, total in counters.items():
        per_s = rates.get(name) if rates else None
        table.add_row(
            Text(one_line(name)),
            Text(show_value(total)),
            Text("-" if per_s is None else f"{per_s:,.1f}"),
        )
    return table


def main_text(item: Any) -> str | None:
    for name in TEXT_FIELDS:
        value = getattr(item, name, None)
        if isinstance(value, str) and value.strip():
            return literal(value)
    return None


class DetailsScreen(ModalScreen[None]):
    CSS_PATH = Path(__file__).with_suffix(".tcss")

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "dismiss_screen", "Close", id="details.close"),
        Binding("c", "copy", "Copy query", id="details.copy"),
    ]

    def __init__(
        self,
        title: str,
        item: Any,
        *,
        counter_rates: Mapping[str, float] | None = None,
        engine: str = "",
    ) -> None:
        super().__init__()
        #: whose words the fields are shown in (a Session's on each engine)
        self._engine = engine
        self._title = title
        self._item = item
        self._text = main_text(item)
        counters = getattr(item, "counters", None)
        #: shown as their own table (total and rate), not among the fields
        self._counters: Mapping[str, float] = counters if isinstance(counters, Mapping) else {}
        self._counter_rates = counter_rates

    def compose(self) -> ComposeResult:
        with Vertical(id="details-box") as box:
            box.border_title = literal_title(self._title)
            if self._text is not None:
                area = TextArea(
                    self._text,
                    read_only=True,
                    soft_wrap=True,
                    show_line_numbers=False,
                    id="details-text",
                )
                area.cursor_blink = False
                yield area
            with VerticalScroll(id="details-fields"):
                yield Static(self._fields(), id="details-table")
        yield Footer()

    def _fields(self) -> Table | Group:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column(overflow="fold")
        is_session = isinstance(self._item, Session)
        for name, value in field_rows(self._item):
            if self._counters and name.startswith("counters."):
                continue
            if value == "-":
                continue  # nothing known: a blank row only pushes the rest down
            if is_session and "." not in name:
                label = field_label(self._engine, name)
                if label is None:
                    continue
                name = label
            table.add_row(Text(name), Text(value))
        if not self._counters:
            return table
        title = Text("Counters (total, and per second over the last interval)", style="bold")
        return Group(table, Text(""), title, counter_table(self._counters, self._counter_rates))

    def on_mount(self) -> None:
        target = self.query("#details-text")
        if target:
            target.first().focus()

    def action_dismiss_screen(self) -> None:
        self.dismiss(None)

    def action_copy(self) -> None:
        if self._text is None:
            self.notify("nothing to copy", severity="warning")
            return
        self.app.copy_to_clipboard(self._text)
        self.notify("copied to the clipboard (OSC 52: the terminal must allow it)")
