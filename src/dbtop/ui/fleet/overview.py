"""The fleet overview: one row per server, redrawn at most twice a second whatever the
number of targets (each poller only marks the overview out of date); Enter opens the
server under the cursor."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from dbtop.ui.fleet.rows import COLUMNS, row
from dbtop.ui.fleet.screen import FLEET_BINDINGS

if TYPE_CHECKING:
    from dbtop.ui.fleet.app import FleetApp

#: seconds between redraws while something changed (and of the status ages)
REDRAW_S = 0.5
_STATE_STYLE = {"live": "", "stale": "bold", "reconnecting": "bold reverse"}


class FleetScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open_server", "Open", id="fleet.open"),
        *FLEET_BINDINGS[1:],
        Binding("q", "app.quit", "Quit", id="fleet.quit"),
    ]
    DEFAULT_CSS = """
    FleetScreen #fleet-title { height: 1; padding: 0 1; text-style: bold; }
    FleetScreen DataTable { height: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.dirty = True
        #: redraws done (tests and the benchmark wait on it)
        self.redraws = 0

    @property
    def fleet(self) -> FleetApp:
        return cast("FleetApp", self.app)

    def compose(self) -> ComposeResult:
        yield Static(id="fleet-title")
        table: DataTable[Text] = DataTable(id="fleet", cursor_type="row", zebra_stripes=True)
        yield table
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        table = self.query_one("#fleet", DataTable)
        for label in COLUMNS:
            table.add_column(label, key=label)
        self.redraw()
        self.set_interval(REDRAW_S, self._tick)
        table.focus()

    def on_screen_resume(self) -> None:
        self.dirty = True

    def _tick(self) -> None:
        # The status column ages every second (stale for 12s, retry in 3s), so a redraw
        # happens at least that often even when no poller reported anything.
        self.redraw()

    def redraw(self) -> None:
        table: DataTable[Text] = self.query_one("#fleet", DataTable)
        now = self.fleet.clock()
        sessions = self.fleet.sessions
        live = 0
        for session in sessions:
            shown = row(session.name, session.status, session.latest_result, now)
            live += shown.state == "live"
            style = _STATE_STYLE.get(shown.state, "")
            cells = [Text(c, style=style, no_wrap=True) for c in shown.cells]
            key = str(session.index)
            if key in table.rows:
                for label, cell in zip(COLUMNS, cells, strict=True):
                    table.update_cell(key, label, cell)
            else:
                table.add_row(*cells, key=key)
        title = self.query_one("#fleet-title", Static)
        title.update(Text(f"dbtop fleet · {len(sessions)} servers · {live} live"))
        self.dirty = False
        self.redraws += 1

    def cursor_index(self) -> int:
        return self.query_one("#fleet", DataTable).cursor_row

    def action_open_server(self) -> None:
        self.fleet.open_target(self.cursor_index())

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.fleet.open_target(event.cursor_row)
