"""The fleet overview: one row per server, redrawn twice a second whatever the number of
targets (a poll only replaces its target's last result: the next redraw shows it, and the
table is rebuilt only when a row changed); Enter opens the server under the cursor."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from dbtop.ui.fleet.rows import COLUMNS, Row, row
from dbtop.ui.fleet.screen import FLEET_BINDINGS

if TYPE_CHECKING:
    from dbtop.ui.fleet.app import FleetApp

#: seconds between redraws (the status column's ages move every second)
REDRAW_S = 0.5
CSS_FILE = Path(__file__).with_suffix(".tcss")
#: row states with a colour of their own in overview.tcss
_STATES = ("live", "stale", "reconnecting", "connecting")


class FleetTable(DataTable[Text]):
    """The overview's table: its component classes carry the theme's colour per state."""

    COMPONENT_CLASSES: ClassVar[set[str]] = DataTable.COMPONENT_CLASSES | {
        f"fleet--{state}" for state in _STATES
    }


class FleetScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open_server", "Open", id="fleet.open"),
        *FLEET_BINDINGS[1:],
        Binding("q", "app.quit", "Quit", id="fleet.quit"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._shown: list[Row] = []
        self._title = ""
        #: redraws done (tests and the benchmark wait on it)
        self.redraws = 0

    @property
    def fleet(self) -> FleetApp:
        return cast("FleetApp", self.app)

    def compose(self) -> ComposeResult:
        yield Static(id="fleet-title")
        yield FleetTable(id="fleet", cursor_type="row", zebra_stripes=True)
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        table = self.query_one("#fleet", DataTable)
        for label in COLUMNS:
            table.add_column(label, key=label)
        self.redraw()
        self.set_interval(REDRAW_S, self._tick)
        table.focus()

    def _tick(self) -> None:
        # The status column ages every second (stale for 12s, retry in 3s), so a redraw
        # happens at least that often even when no poller reported anything.
        self.redraw()

    def redraw(self) -> None:
        table: DataTable[Text] = self.query_one("#fleet", DataTable)
        now = self.fleet.clock()
        sessions = self.fleet.sessions
        shown = [row(s.name, s.status, s.live_result, now) for s in sessions]
        live = sum(r.state == "live" for r in shown)
        if shown != self._shown:
            # Rebuilt whole when anything changed (20 rows are cheap): updating single
            # cells left the cursor row drawn from Textual's cache.
            cursor = table.cursor_row
            table.clear()
            for index, current in enumerate(shown):
                style = (
                    table.get_component_rich_style(f"fleet--{current.state}", partial=True)
                    if current.state in _STATES
                    else ""
                )
                cells = [Text(c, style=style, no_wrap=True) for c in current.cells]
                table.add_row(*cells, key=str(index))
            table.move_cursor(row=min(cursor, len(shown) - 1))
            self._shown = shown
        title = f"dbtop fleet · {len(sessions)} servers · {live} live"
        if title != self._title:  # an update repaints the line even when it is the same
            self.query_one("#fleet-title", Static).update(Text(title))
            self._title = title
        self.redraws += 1

    def cursor_index(self) -> int:
        return self.query_one("#fleet", DataTable).cursor_row

    def action_open_server(self) -> None:
        self.fleet.open_target(self.cursor_index())

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.fleet.open_target(event.cursor_row)
