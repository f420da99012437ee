"""``g``: the time to go to, typed (ISO 8601, HH:MM[:SS], +SECONDS, -SECONDS)."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class GoToScreen(ModalScreen[str | None]):
    DEFAULT_CSS = """
    GoToScreen { align: center middle; }
    GoToScreen > Vertical {
        width: 64; height: auto; border: round $accent; background: $surface; padding: 0 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="goto.cancel"),
    ]

    def __init__(self, span: str) -> None:
        super().__init__()
        self.span = span

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Go to (recorded {self.span})", markup=False)
            yield Static(
                "HH:MM[:SS], ISO 8601, +SECONDS from the start, -SECONDS from the end", markup=False
            )
            yield Input(placeholder="03:12", id="goto-input")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
