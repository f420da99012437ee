"""A yes/no question before anything changes on the server (kill, EXPLAIN ANALYZE).

It says who and what (user, database, state, query) so the DBA confirms the right
session; ``y`` confirms, ``n`` or Escape declines, and the focus starts on "No" so a stray
Enter changes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.console import RenderableType
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from dbtop.ui.literal import title as literal_title


class ConfirmScreen(ModalScreen[bool]):
    CSS_PATH = Path(__file__).with_suffix(".tcss")

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(
        self, title: str, body: RenderableType, *, yes: str = "Yes", danger: bool = True
    ) -> None:
        super().__init__()
        self._title = title
        self._body = body
        self._yes = yes
        self._danger = danger

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box") as box:
            box.border_title = literal_title(self._title)
            yield Static(self._body, id="confirm-body")
            with Horizontal(id="confirm-buttons"):
                # Compact (one row): at 80x24 a full button's label fell below the box.
                yield Button(
                    f"{self._yes} (y)",
                    variant="error" if self._danger else "primary",
                    id="confirm-yes",
                    compact=True,
                )
                yield Button("No (n)", id="confirm-no", compact=True)

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm-yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
