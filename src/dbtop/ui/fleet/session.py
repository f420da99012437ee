"""One target of the fleet: its poller, its latest result, its main screen.

It stands in for the app where a main screen and its action controllers look for "the
app" (``screen.dbtop``): the poller, the latest result, read-only mode, the clock, pushing a
dialog. Each target has its own engine factory, options and interval, so one hung or down
server only ever holds up its own poller.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual.screen import Screen

from dbtop.engines.base import Engine
from dbtop.poller import Poller, PollResult, PollStatus
from dbtop.ui.messages import PollArrived, PollStatusChanged
from dbtop.ui.timeline.base import Timeline
from dbtop.ui.timeline.history import LiveHistory

if TYPE_CHECKING:
    from dbtop.ui.fleet.app import FleetApp
    from dbtop.ui.fleet.screen import TargetScreen


class TargetSession:
    def __init__(
        self,
        app: FleetApp,
        index: int,
        name: str,
        engine_factory: Callable[[], Engine],
        *,
        interval_s: float,
        read_only: bool,
    ) -> None:
        self.app = app
        self.index = index
        self.name = name
        self.read_only = read_only
        self.clock = app.clock
        self._factory = engine_factory
        self.show_idle = app.settings.show_idle
        self.poller: Poller = Poller(
            self._make_engine,
            interval_s=interval_s,
            on_result=self._arrived,
            on_status=self._status_changed,
            clock=app.clock,
        )
        #: what this server's screen shows (the newest poll, or a sample of its history)
        self.latest_result: PollResult | None = None
        #: the newest poll, whatever the screen shows: the overview's row
        self.live_result: PollResult | None = None
        #: this server's own last 15 minutes, scrubbed with the replay keys on its screen
        self.timeline: Timeline = LiveHistory()
        self.results = 0
        self.screen: TargetScreen | None = None

    @property
    def status(self) -> PollStatus:
        return self.poller.status

    def _make_engine(self) -> Engine:
        engine = self._factory()
        engine.include_idle = self.show_idle
        return engine

    # -- what a main screen asks of its app ----------------------------------------------

    def push_screen(self, screen: Screen[Any], callback: Any = None) -> Any:
        return self.app.push_screen(screen, callback)

    def set_show_idle(self, show: bool) -> None:
        self.show_idle = show
        engine = self.poller.engine
        if engine is not None:
            engine.include_idle = show
            self.poller.refresh_now()

    async def action_quit(self) -> None:
        await self.app.action_quit()

    # -- from the poller --------------------------------------------------------------------

    def _arrived(self, result: PollResult) -> None:
        self.live_result = result
        self.results += 1
        if not self.timeline.keep(result):  # kept, not shown, while its screen shows the past
            self.latest_result = result
            self._to_screen(PollArrived(result))
        self.app.target_changed(self)

    def show_past(self, result: PollResult) -> None:
        """Show a sample of the time line as the screen's current one (as DbtopApp does)."""
        self.latest_result = result
        self._to_screen(PollArrived(result))

    def _status_changed(self, status: PollStatus) -> None:
        self._to_screen(PollStatusChanged(status))
        self.app.target_changed(self)

    def _to_screen(self, message: PollArrived | PollStatusChanged) -> None:
        # Only a screen on the stack draws: one hidden behind another server's is brought
        # up to date when it is shown again (TargetScreen.on_screen_resume).
        screen = self.screen
        if screen is not None and screen.is_mounted and screen in self.app.screen_stack:
            screen.post_message(message)
