"""The fleet overview drawn (pytest-textual-snapshot), fed from the recorded PostgreSQL
snapshot under two names and a third server whose connection never answers; a frozen
clock, so every age on screen is fixed. Enter on a row opens that server's main screen
with every pane of the one-server UI."""

from __future__ import annotations

import asyncio

from dbtop.ui.app import AppSettings
from dbtop.ui.fleet.app import FleetApp, FleetTarget
from dbtop.ui.fleet.screen import TargetScreen
from dbtop.ui.screens.main import MainScreen
from tests.ui.conftest import FROZEN_CLOCK, TEST_INTERVAL, replay, until
from tests.ui.recorded import ReplayEngine, load_snapshots
from tests.waiting import settled


class HungEngine(ReplayEngine):
    """A server that accepts the connection and never answers the handshake."""

    async def connect(self) -> None:
        await asyncio.Event().wait()


def fleet_app() -> tuple[FleetApp, list[ReplayEngine]]:
    engines = [replay(load_snapshots()), replay(load_snapshots())]
    hung = HungEngine(load_snapshots())
    app = FleetApp(
        [
            FleetTarget("prod-db", lambda: engines[0]),
            FleetTarget("prod-replica", lambda: engines[1]),
            FleetTarget("prod-cache", lambda: hung),
        ],
        AppSettings(interval_s=TEST_INTERVAL),
        clock=lambda: FROZEN_CLOCK,
        handle_signals=False,
    )
    return app, engines


async def both_polled(pilot, app: FleetApp, engines: list[ReplayEngine]) -> None:
    def shown() -> bool:
        for session, engine in zip(app.sessions[:2], engines, strict=True):
            # the interval is long: ask for the next poll, once the last one was shown
            if session.results < 2 and engine.polls == session.results:
                session.poller.refresh_now()
        return all(s.results >= 2 for s in app.sessions[:2])

    await until(pilot, shown, "two polls of each recorded server")
    app.overview.redraw()
    await settled(pilot)


def test_fleet_overview(snap_compare):
    app, engines = fleet_app()

    async def run_before(pilot) -> None:
        await both_polled(pilot, app, engines)

    assert snap_compare(app, terminal_size=(200, 12), run_before=run_before)


async def test_enter_opens_the_server_with_all_its_panes():
    app, engines = fleet_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await both_polled(pilot, app, engines)
        await pilot.press("down", "enter")
        await until(pilot, lambda: isinstance(app.screen, TargetScreen), "prod-replica's screen")
        screen = app.screen
        assert isinstance(screen, MainScreen) and screen.session.name == "prod-replica"
        await until(pilot, lambda: screen.pane("sessions").result is not None, "its sessions")
        assert screen.pane("sessions").result is app.sessions[1].latest_result
        await pilot.press("4")
        await until(pilot, lambda: screen.active_pane == "locks", "its Locks pane")
        await pilot.press("f2")
        await until(pilot, lambda: app.current_index() == 0, "prod-db's screen")
        assert engines[0].connected and engines[1].connected
        # one poller per target, each polled only when asked (the interval is an hour)
        assert [e.polls for e in engines] == [2, 2]
