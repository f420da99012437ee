"""A driver's error may quote the URL with its password: the fleet never shows it, neither
in the overview's Status column nor in the header of the server's own screen."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from dbtop.errors import ConnectError, DbtopError
from dbtop.model import Snapshot
from dbtop.ui.app import AppSettings
from dbtop.ui.fleet.app import FleetApp, FleetTarget
from dbtop.ui.fleet.screen import TargetScreen
from dbtop.ui.widgets.header import Header
from tests.ui.conftest import FROZEN_CLOCK, TEST_INTERVAL, replay, until
from tests.ui.recorded import ReplayEngine, load_snapshots

#: short, so that the whole message fits in the Status cell (72 characters) unredacted
SECRET = "hunter2pw"


class FailingPolls(ReplayEngine):
    """Answers its first poll; every poll after fails with a message quoting the URL."""

    async def snapshot(self) -> Snapshot:
        if self.polls >= 1:
            self.polls += 1
            raise DbtopError(f"lost mysql://root:{SECRET}@db2/shop?password={SECRET}")
        return await super().snapshot()


def status_cell(app: FleetApp, index: int) -> str:
    table: DataTable[Text] = app.overview.query_one("#fleet", DataTable)
    value = table.get_cell(str(index), "Status")
    return str(value.plain if isinstance(value, Text) else value)


def header_text(app: FleetApp) -> str:
    header = app.screen.query_one(Header)
    return "\n".join(header.render_line(y).text for y in range(header.size.height))


async def test_no_password_from_an_error_reaches_the_screen():
    refused = ConnectError(f"refused postgresql://app:{SECRET}@db1/x")
    down = replay(load_snapshots(), fail_connect=refused)
    flaky = FailingPolls(load_snapshots())
    app = FleetApp(
        [FleetTarget("down", lambda: down), FleetTarget("flaky", lambda: flaky)],
        AppSettings(interval_s=TEST_INTERVAL),
        clock=lambda: FROZEN_CLOCK,
        handle_signals=False,
    )
    async with app.run_test(size=(200, 30)) as pilot:
        await until(pilot, lambda: app.sessions[1].results >= 1, "the flaky server's first poll")
        app.sessions[1].poller.refresh_now()  # fails
        await until(
            pilot,
            lambda: (
                status_cell(app, 0).startswith("reconnecting")
                and status_cell(app, 1).startswith("stale")
            ),
            "both errors on the overview",
        )
        assert status_cell(app, 0).endswith(": refused postgresql://app:***@db1/x")
        assert status_cell(app, 1) == "stale: lost mysql://root:***@db2/shop?password=***"
        for session in app.sessions:
            assert SECRET not in str(session.status.error)
            assert SECRET not in str(session.poller.status.error)

        await pilot.press("down", "enter")
        await until(pilot, lambda: isinstance(app.screen, TargetScreen), "the flaky server")
        await until(pilot, lambda: "***" in header_text(app), "its error in its header")
        assert SECRET not in header_text(app)
