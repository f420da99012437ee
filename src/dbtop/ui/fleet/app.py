"""The fleet app: the one-server app's themes, keymap, signals and clean exit, with one
target session (poller + main screen) per server and the overview as its first screen.

Each poller runs as its own task, so a server that hangs holds up only its own row. A first
connection that fails does not end the app (as it does with one server): that server's row
says why, and its poller keeps retrying with its backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from dbtop.engines.base import Engine
from dbtop.ui.app import AppSettings, DbtopApp
from dbtop.ui.fleet.overview import CSS_FILE as FLEET_CSS
from dbtop.ui.fleet.overview import FleetScreen
from dbtop.ui.fleet.screen import TargetScreen
from dbtop.ui.fleet.session import TargetSession
from dbtop.ui.panes.base import ViewOptions


@dataclass(frozen=True, slots=True)
class FleetTarget:
    name: str
    engine_factory: Callable[[], Engine]
    interval_s: float | None = None
    read_only: bool = False


class FleetApp(DbtopApp):
    CSS_PATH: ClassVar = [*DbtopApp.CSS_PATH, FLEET_CSS]

    def __init__(
        self,
        targets: Sequence[FleetTarget],
        settings: AppSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_ready: Callable[[], object] | None = None,
        handle_signals: bool = True,
    ) -> None:
        if not targets:
            raise ValueError("a fleet needs at least one target")
        super().__init__(
            targets[0].engine_factory, settings, clock=clock, handle_signals=handle_signals
        )
        self._fleet_ready = on_ready
        self._fleet_ready_called = False
        self.sessions: list[TargetSession] = [
            TargetSession(
                self,
                index,
                target.name,
                target.engine_factory,
                interval_s=target.interval_s or self.settings.interval_s,
                read_only=self.settings.read_only or target.read_only,
            )
            for index, target in enumerate(targets)
        ]
        # The one-server app polls self.poller: here it is the first target's, and the
        # others run beside it (on_mount).
        self.poller = self.sessions[0].poller
        self.overview = FleetScreen()
        self._tasks: list[asyncio.Task[None]] = []
        #: monotonic time every target first had a result or a failure (the benchmark's
        #: "first full overview")
        self.all_reported_at: float | None = None

    def get_default_screen(self) -> FleetScreen:  # type: ignore[override]
        return self.overview

    def on_mount(self) -> None:
        # DbtopApp.on_mount runs too (Textual calls each class's handler in the MRO): the
        # first target's poller, the signals, the terminal check. The others start here.
        self._tasks = [
            asyncio.create_task(s.poller.run(), name=f"dbtop-poller-{s.index}")
            for s in self.sessions[1:]
        ]

    async def stop_polling(self) -> None:
        others = [s.poller.stop() for s in self.sessions[1:]]
        await asyncio.gather(super().stop_polling(), *others, return_exceptions=True)
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # -- from the sessions ------------------------------------------------------------------

    def target_changed(self, session: TargetSession) -> None:
        if self.all_reported_at is None and all(
            s.live_result is not None or s.status.failures for s in self.sessions
        ):
            self.all_reported_at = self.clock()
            if self._fleet_ready is not None and not self._fleet_ready_called:
                self._fleet_ready_called = True
                self.call_after_refresh(self._fleet_ready)

    # -- navigation ----------------------------------------------------------------------

    def target_screen(self, index: int) -> TargetScreen:
        session = self.sessions[index]
        if session.screen is None:
            view = ViewOptions(
                show_idle=self.settings.show_idle, long_query_s=self.settings.long_query_s
            )
            session.screen = TargetScreen(session, layout=self.settings.layout, view=view)
            self.install_screen(session.screen, name=f"target-{index}")
        return session.screen

    def current_index(self) -> int | None:
        screen = self.screen
        if isinstance(screen, TargetScreen):
            return screen.session.index
        return None

    def open_target(self, index: int) -> None:
        if not 0 <= index < len(self.sessions):
            return
        screen = self.target_screen(index)
        if self.screen is screen:
            return
        if isinstance(self.screen, TargetScreen):
            self.switch_screen(screen)
        elif self.screen is self.overview:
            self.push_screen(screen)

    def action_fleet_overview(self) -> None:
        if isinstance(self.screen, TargetScreen):
            self.pop_screen()

    def action_fleet_step(self, step: int) -> None:
        current = self.current_index()
        if current is None:
            current = self.overview.cursor_index() - step if self.screen is self.overview else 0
        self.open_target((current + step) % len(self.sessions))
