"""``p`` in the Slow queries pane, where the engine's statement statistics need its profiler
(MongoDB): pick a database and a threshold, read that it is a write on the server, and turn
it on. Escape or "Cancel" changes nothing; the focus starts on the database list, so a
stray Enter only picks a database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static

from dbtop.safetext import one_line

DEFAULT_SLOWMS = 100
#: a threshold above this is a typo (an hour), not a choice
MAX_SLOWMS = 3_600_000

EXPLANATION = (
    "A write on the server: the profile command (level 1) makes the chosen database record "
    "every operation slower than the threshold in its capped system.profile collection, "
    "which feeds this pane. It costs a little on each slow operation and stays on after "
    "dbtop exits (level 0 turns it off)."
)


@dataclass(frozen=True, slots=True)
class ProfilerChoice:
    database: str
    slowms: int


def parse_slowms(text: str) -> int | None:
    """The threshold in ms, or None when it is not a whole number from 0 to an hour."""
    try:
        value = int(text.strip())
    except ValueError:
        return None
    return value if 0 <= value <= MAX_SLOWMS else None


class ProfilerScreen(ModalScreen[ProfilerChoice | None]):
    CSS_PATH = Path(__file__).with_suffix(".tcss")

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="profiler.cancel"),
    ]

    def __init__(self, databases: Sequence[str], *, slowms: int = DEFAULT_SLOWMS) -> None:
        super().__init__()
        self._databases = tuple(databases)
        self._slowms = slowms

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="profiler-box") as box:
            box.border_title = "Turn the profiler on?"
            yield Static(Text(EXPLANATION), id="profiler-explanation")
            yield Label("Database")
            with RadioSet(id="profiler-databases"):
                for index, name in enumerate(self._databases):
                    # Database names come from the server: shown literally, never as markup.
                    yield RadioButton(Text(one_line(name)), value=index == 0, name=name)
            with Horizontal(id="profiler-threshold"):
                yield Label("Record operations slower than ")
                yield Input(
                    str(self._slowms),
                    type="integer",
                    max_length=7,
                    compact=True,
                    id="profiler-slowms",
                )
                yield Label(" ms")
            yield Static("", id="profiler-error")
            with Horizontal(id="profiler-buttons"):
                yield Button("Turn it on", variant="warning", id="profiler-yes")
                yield Button("Cancel", id="profiler-no")

    def on_mount(self) -> None:
        self.query_one("#profiler-slowms", Input).cursor_blink = False
        self.query_one("#profiler-error", Static).display = False
        self.query_one("#profiler-databases", RadioSet).focus()

    @property
    def database(self) -> str | None:
        pressed = self.query_one("#profiler-databases", RadioSet).pressed_button
        return pressed.name if pressed is not None else None

    def _submit(self) -> None:
        database = self.database
        slowms = parse_slowms(self.query_one("#profiler-slowms", Input).value)
        problem = None
        if database is None:
            problem = "pick a database"
        elif slowms is None:
            problem = f"the threshold is a whole number of ms, from 0 to {MAX_SLOWMS:,}"
        if problem is not None:
            error = self.query_one("#profiler-error", Static)
            error.update(Text(problem))
            error.display = True
            return
        assert database is not None and slowms is not None
        self.dismiss(ProfilerChoice(database, slowms))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "profiler-yes":
            self._submit()
        else:
            self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    def action_cancel(self) -> None:
        self.dismiss(None)
