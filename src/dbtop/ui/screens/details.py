"""Every field of one row (session, statement, index …), with the full query text in a
read-only text area: select it with the mouse, or ``c`` copies it to the clipboard."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static, TextArea

from dbtop.safetext import literal, one_line

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

    def __init__(self, title: str, item: Any) -> None:
        super().__init__()
        self._title = title
        self._item = item
        self._text = main_text(item)

    def compose(self) -> ComposeResult:
        with Vertical(id="details-box") as box:
            box.border_title = one_line(self._title)
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
                yield Static(self._fields_table())
        yield Footer()

    def _fields_table(self) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column(overflow="fold")
        for name, value in field_rows(self._item):
            table.add_row(Text(name), Text(value))
        return table

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
