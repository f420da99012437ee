"""Several servers of different engines in one UI (Pilot): the session's private PostgreSQL
15, the machine's MariaDB, and its Redis behind a proxy the test stalls and then stops.
The overview says each server's status; a hung server turns stale and a stopped one
reconnecting, with why, while the others keep refreshing; Enter, F3, ctrl+left and 0
move between the servers and the overview."""

from __future__ import annotations

import pytest
from rich.text import Text
from textual.widgets import DataTable

from dbtop.engines.base import ConnectOptions
from dbtop.engines.registry import create_engine
from dbtop.ui.app import AppSettings
from dbtop.ui.fleet.app import FleetApp, FleetTarget
from dbtop.ui.fleet.rows import COLUMNS
from dbtop.ui.fleet.screen import TargetScreen
from tests.servers.proxy import Proxy
from tests.ui.conftest import until

pytestmark = [pytest.mark.postgresql, pytest.mark.mysql, pytest.mark.redis]

MYSQL_URL = "mysql://root@127.0.0.1:3306/test"
INTERVAL_S = 0.5
#: short deadlines, so the stalled Redis fails its poll within a test's patience
OPTIONS = ConnectOptions(connect_timeout_s=1.0, statement_timeout_ms=500)


def _target(name: str, url: str) -> FleetTarget:
    return FleetTarget(name, lambda: create_engine(url, OPTIONS))


def cell(app: FleetApp, index: int, column: str) -> str:
    table: DataTable[Text] = app.overview.query_one("#fleet", DataTable)
    value = table.get_cell(str(index), column)
    return str(value.plain if isinstance(value, Text) else value)


async def test_three_engines_one_down_the_others_live(pg15_admin_url):
    with Proxy("127.0.0.1", 6379) as proxy:
        app = FleetApp(
            [
                _target("app-db", pg15_admin_url),
                _target("app-mysql", MYSQL_URL),
                _target("app-cache", proxy.url("redis://{host}:{port}")),
            ],
            AppSettings(interval_s=INTERVAL_S),
            handle_signals=False,
        )
        async with app.run_test(size=(220, 30)) as pilot:
            # live once connected, its figures with its first poll (a redraw later)
            await until(
                pilot,
                lambda: all(
                    cell(app, i, "Status") == "live" and cell(app, i, "Engine") != "—"
                    for i in range(3)
                ),
                "three live rows with their first poll",
                timeout_s=20,
            )
            assert [cell(app, i, "Engine") for i in range(3)] == ["postgresql", "mysql", "redis"]
            assert [cell(app, i, "Server") for i in range(3)] == [
                "app-db",
                "app-mysql",
                "app-cache",
            ]
            assert cell(app, 0, "Role") == "primary"

            proxy.stall()
            await until(
                pilot,
                lambda: "did not answer" in cell(app, 2, "Status"),
                "the hung Redis cut off at its deadline, and why",
                timeout_s=15,
            )
            assert cell(app, 2, "Status").startswith("reconnecting")
            proxy.refuse()
            await until(
                pilot,
                lambda: "cannot reach" in cell(app, 2, "Status"),
                "the stopped Redis reconnecting, and why",
                timeout_s=20,
            )
            polls = [app.sessions[i].results for i in range(2)]
            await until(
                pilot,
                lambda: all(app.sessions[i].results >= polls[i] + 2 for i in range(2)),
                "the other two refreshing",
            )
            assert cell(app, 0, "Status") == cell(app, 1, "Status") == "live"

            await pilot.press("down", "enter")
            await until(pilot, lambda: isinstance(app.screen, TargetScreen), "a server screen")
            assert app.current_index() == 1
            await until(
                pilot,
                lambda: app.screen.latest_snapshot() is not None,
                "MariaDB's snapshot on its screen",
            )
            await pilot.press("f3")
            await until(pilot, lambda: app.current_index() == 2, "the next server")
            await pilot.press("ctrl+left", "ctrl+left")
            await until(pilot, lambda: app.current_index() == 0, "two servers back")
            await pilot.press("0")
            await until(pilot, lambda: app.screen is app.overview, "the overview again")
            assert COLUMNS[0] == "Server"
