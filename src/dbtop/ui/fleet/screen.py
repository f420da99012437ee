"""One target's main screen: every pane and key of the one-server UI, plus the fleet keys
(``0`` the overview, ctrl+left/right and F2/F3 the previous/next server)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual import on
from textual.binding import Binding, BindingType

from dbtop.ui.messages import PollArrived, PollStatusChanged
from dbtop.ui.panes.base import ViewOptions
from dbtop.ui.screens.main import MainScreen

if TYPE_CHECKING:
    from dbtop.ui.app import DbtopApp
    from dbtop.ui.fleet.session import TargetSession

FLEET_BINDINGS: list[BindingType] = [
    Binding("0", "app.fleet_overview", "Overview", id="fleet.overview"),
    Binding("ctrl+left,f2", "app.fleet_step(-1)", "Previous server", id="fleet.previous"),
    Binding("ctrl+right,f3", "app.fleet_step(1)", "Next server", id="fleet.next"),
]


class TargetScreen(MainScreen):
    BINDINGS: ClassVar[list[BindingType]] = FLEET_BINDINGS

    def __init__(self, session: TargetSession, *, layout: str, view: ViewOptions) -> None:
        self.session = session
        super().__init__(layout=layout, view=view)
        self.sub_title = session.name

    @property
    def dbtop(self) -> DbtopApp:
        # The session answers what the screen and its controllers ask of "the app".
        return cast("DbtopApp", self.session)

    def on_screen_resume(self) -> None:
        self.apply_status(self.session.status)
        if self.session.latest_result is not None:
            self.apply_result(self.session.latest_result)

    @on(PollArrived)
    @on(PollStatusChanged)
    def _stay_here(self, message: PollArrived | PollStatusChanged) -> None:
        # The one-server app counts and judges these; the fleet app has its own signal.
        message.stop()


def fleet_binding_ids() -> set[str]:
    """The fleet's binding ids a keymap may remap (known to the one-server UI too, so one
    keymap.toml serves both)."""
    from dbtop.ui.fleet.overview import FleetScreen
    from dbtop.ui.keymap import binding_ids

    return binding_ids([*FLEET_BINDINGS, *FleetScreen.BINDINGS])
