"""``E`` on a statement with ``$n`` parameters: EXPLAIN ANALYZE runs the statement, and a
pg_stat_statements text has no values to run it with. Asked before anything is sent: the
statement, editable, for the user to put values in place of ``$1``…; or the generic plan
(EXPLAIN without ANALYZE, the parameters unknown) instead; or nothing.

It answers ``("analyze", text)``, ``("generic", None)`` or None. The engine still proves
the edited statement harmless before it runs it (a write is refused as always).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from dbtop.analysis.parameters import parameter_numbers
from dbtop.safetext import one_line
from dbtop.ui.literal import title as literal_title

Answer = tuple[str, str | None] | None


class ExplainValuesScreen(ModalScreen[Answer]):
    CSS_PATH = Path(__file__).with_suffix(".tcss")

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "answer_none", "Cancel", id="values.cancel"),
        Binding("ctrl+g", "generic", "Generic plan", id="values.generic"),
    ]

    def __init__(self, query: str, numbers: list[int]) -> None:
        super().__init__()
        self._query = one_line(query, 5000)
        self._numbers = numbers

    def compose(self) -> ComposeResult:
        names = ", ".join(f"${n}" for n in self._numbers)
        with Vertical(id="values-box") as box:
            box.border_title = literal_title("EXPLAIN ANALYZE needs values")
            yield Static(
                Text(
                    f"This statement has parameters ({names}): ANALYZE runs it, so it needs "
                    "a value for each. Put them in place of the $n below and press Enter "
                    "(it runs only if it only reads, in a transaction rolled back), or take "
                    "the generic plan (EXPLAIN without ANALYZE: nothing runs)."
                ),
                id="values-body",
            )
            yield Input(self._query, id="values-query")
            yield Static("", id="values-error")
            with Horizontal(id="values-buttons"):
                yield Button("Run ANALYZE (Enter)", variant="primary", id="values-analyze")
                yield Button("Generic plan (ctrl+g)", id="values-generic")
                yield Button("Cancel (Esc)", id="values-cancel")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self._analyze()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "values-analyze":
            self._analyze()
        elif event.button.id == "values-generic":
            self.action_generic()
        else:
            self.dismiss(None)

    def _analyze(self) -> None:
        text = self.query_one(Input).value
        left = parameter_numbers(text)
        if left:
            missing = ", ".join(f"${n}" for n in left)
            self.query_one("#values-error", Static).update(
                Text(f"! still without a value: {missing}", style="bold")
            )
            return
        self.dismiss(("analyze", text))

    def action_generic(self) -> None:
        self.dismiss(("generic", None))

    def action_answer_none(self) -> None:
        self.dismiss(None)
