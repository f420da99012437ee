"""The Health pane (key 5) and the progress cell of a session row, fed from the recorded
PostgreSQL snapshot with health findings and a CREATE INDEX in progress added."""

from __future__ import annotations

import dataclasses

from dbtop.model import Finding, Severity, Snapshot
from dbtop.progress import Progress
from dbtop.ui.screens.details import DetailsScreen
from dbtop.ui.widgets.rowtable import RowTable
from tests.ui.conftest import make_app, polled, replay

SEQUENCE = Finding(
    "sequence_exhaustion",
    "public.orders_id_seq",
    "sequence public.orders_id_seq is at 2,040,109,465, 95% of its integer maximum",
    Severity.CRITICAL,
    statement="ALTER SEQUENCE public.orders_id_seq AS bigint;",
)
SLOT = Finding(
    "replication_slot_inactive",
    "standby_b",
    "physical replication slot standby_b has no consumer connected",
    Severity.WARNING,
    statement="SELECT pg_drop_replication_slot('standby_b');",
)
BUILD = Progress("CREATE INDEX", "building index: scanning table", 40, 100, 40.0, 75.0, "blocks")


def _with_health(snapshot: Snapshot) -> Snapshot:
    first = snapshot.sessions[0]
    sessions = (dataclasses.replace(first, progress=BUILD), *snapshot.sessions[1:])
    return dataclasses.replace(
        snapshot, findings=(*snapshot.findings, SLOT, SEQUENCE), sessions=sessions
    )


async def test_health_lists_findings_most_urgent_first_with_the_fix(snapshots) -> None:
    engine = replay([_with_health(s) for s in snapshots])
    app = make_app(engine)
    async with app.run_test(size=(120, 35)) as pilot:
        await polled(pilot, engine)
        screen = app.main_screen
        assert screen is not None
        running = snapshots[0].sessions[0].id
        row = screen.query_one("#sessions-table", RowTable).row(running)
        assert row is not None and row.cells[-1].startswith(
            "[40% ~75.0s building index: scanning table] "
        )

        await pilot.press("5")
        assert screen.active_pane == "health"
        health = screen.query_one("#health-table", RowTable)
        keys = health.ordered_keys
        assert keys[0] == "sequence_exhaustion\x00public.orders_id_seq"
        assert "replication_slot_inactive\x00standby_b" in keys
        shown = [health.row(k).cells[0] for k in keys]  # type: ignore[union-attr]
        rank = {"critical": 0, "warning": 1, "info": 2}
        assert [rank[s] for s in shown] == sorted(rank[s] for s in shown)
        progress = screen.query_one("#health-progress-table", RowTable)
        assert progress.display and progress.ordered_keys == [running]
        assert progress.row(running).cells[1:4] == (  # type: ignore[union-attr]
            "CREATE INDEX",
            "building index: scanning table",
            "40.0%",
        )

        health.move_cursor_to(keys[0])
        await pilot.press("enter")
        assert isinstance(app.screen, DetailsScreen)
        text = app.screen.query_one("#details-text").text
        assert text == "ALTER SEQUENCE public.orders_id_seq AS bigint;"
        await pilot.press("escape")
        await pilot.press("1")
        assert screen.active_pane == "sessions"


async def test_action_keys_on_a_finding_say_why_and_do_nothing(snapshots) -> None:
    engine = replay([_with_health(s) for s in snapshots])
    app = make_app(engine)
    async with app.run_test(size=(120, 35)) as pilot:
        await polled(pilot, engine)
        await pilot.press("5")
        for key in ("k", "e", "s"):
            await pilot.press(key)
            await pilot.pause()
            assert app.screen is app.main_screen  # no dialog for a finding
        assert engine.kills == []


async def test_on_a_large_terminal_health_replaces_the_grid_until_a_pane_key(snapshots) -> None:
    engine = replay([_with_health(s) for s in snapshots])
    app = make_app(engine)
    async with app.run_test(size=(200, 50)) as pilot:
        await polled(pilot, engine)
        screen = app.main_screen
        assert screen is not None and screen.wide
        health = screen.pane("health")
        assert health.region.width == 0  # not in the grid
        await pilot.press("5")
        await pilot.pause()
        assert health.region.width > 100 and health.region.height > 30
        assert all(p.region.width == 0 for p in screen.panes)
        await pilot.press("2")
        await pilot.pause()
        assert screen.active_pane == "statements"
        assert health.region.width == 0
        assert all(p.region.width > 0 for p in screen.panes)
