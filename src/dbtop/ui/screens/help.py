"""``?``: every key that works right now (as remapped by the user's keymap), what it does,
and the id to remap it with, plus what the row colours and flags mean."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

LEGEND = (
    ("B", "root blocker: blocks others, waits for nobody (killing it frees the chain)"),
    ("b", "blocks others while waiting itself"),
    ("W", "waits on a lock"),
    ("T", "idle in transaction (holds its locks and snapshot)"),
    ("L", "statement running longer than the long-query threshold"),
    ("*", "dbtop's own connection (never a kill target)"),
)


@dataclass(frozen=True, slots=True)
class KeyHelp:
    keys: str
    description: str
    binding_id: str | None


def key_rows(bindings: Iterable[tuple[str, Binding]]) -> list[KeyHelp]:
    """One row per action, keys merged (``1``, ``2``… stay separate: they differ)."""
    rows: dict[tuple[str, str], list[str]] = {}
    ids: dict[tuple[str, str], str | None] = {}
    for display, binding in bindings:
        key = (binding.action, binding.description or binding.action)
        rows.setdefault(key, [])
        if display not in rows[key]:
            rows[key].append(display)
        ids[key] = ids.get(key) or binding.id
    return [
        KeyHelp(", ".join(keys), desc, ids[(action, desc)]) for (action, desc), keys in rows.items()
    ]


class HelpScreen(ModalScreen[None]):
    CSS_PATH = Path(__file__).with_suffix(".tcss")

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "close", "Close", id="help.close"),
    ]

    def __init__(self, keys: list[KeyHelp], *, read_only: bool) -> None:
        super().__init__()
        self._keys = keys
        self._read_only = read_only

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box") as box:
            box.border_title = "dbtop keys (Escape closes)"
            yield Static(self._content())

    def _content(self) -> Group:
        keys = Table(show_edge=False, expand=True, box=None, padding=(0, 2))
        keys.add_column("key", style="bold", no_wrap=True)
        keys.add_column("does")
        keys.add_column("keymap id", style="dim", no_wrap=True)
        for row in self._keys:
            keys.add_row(Text(row.keys), Text(row.description), Text(row.binding_id or ""))
        legend = Table(show_edge=False, box=None, padding=(0, 2))
        legend.add_column("flag", style="bold")
        legend.add_column("meaning")
        for flag, meaning in LEGEND:
            legend.add_row(Text(flag), Text(meaning))
        notes: list[RenderableType] = [
            Text(""),
            Text("Row flags (Sessions pane)", style="bold"),
            legend,
            Text(""),
            Text(
                "Ctrl+P opens the command palette (every action, and the theme). Keys are "
                'remapped in ~/.config/dbtop/keymap.toml: [keymap] then id = "keys".'
            ),
        ]
        if self._read_only:
            notes.append(Text("Read-only mode: the kill keys are off.", style="bold"))
        return Group(keys, *notes)

    def action_close(self) -> None:
        self.dismiss(None)
