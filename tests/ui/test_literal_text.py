"""Server text and typed text reach Textual's own strings (border titles, subtitles,
notifications) literally: markup in them is shown, never interpreted, never a crash."""

from __future__ import annotations

import dataclasses

from dbtop.model import Snapshot
from dbtop.ui.screens.details import DetailsScreen
from tests.ui.conftest import make_app, polled, replay, until
from tests.ui.test_keys import table
from tests.waiting import settled


def with_bracketed_index_names(snapshots: list[Snapshot]) -> list[Snapshot]:
    return [
        dataclasses.replace(
            s, indexes=tuple(dataclasses.replace(i, name=i.name + "[/x]") for i in s.indexes)
        )
        for s in snapshots
    ]


async def test_a_dialog_titled_with_server_text_shows_it_literally(snapshots):
    engine = replay(with_bracketed_index_names(snapshots))
    app = make_app(engine)
    async with app.run_test(size=(120, 35)) as pilot:
        await polled(pilot, engine)
        await pilot.press("3")
        table(app, "indexes-table")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailsScreen), "the details")
        assert app.is_running
        assert isinstance(app.screen, DetailsScreen)
        box = app.screen.query_one("#details-box")
        assert "[/x]" in box._border_title.plain


async def test_a_filter_with_markup_is_shown_as_typed(snapshots):
    engine = replay(snapshots)
    app = make_app(engine)
    async with app.run_test(size=(120, 35)) as pilot:
        await polled(pilot, engine)
        await pilot.press("slash", *"[/x]")
        await settled(pilot)
        assert app.is_running
        pane = app.main_screen.pane("sessions")
        assert "[/x]" in pane._border_subtitle.plain


async def test_a_kill_confirmed_after_the_session_was_replaced_does_nothing(snapshots):
    """The id was given to another backend while the dialog was open: no kill."""
    from dbtop.ui.screens.confirm import ConfirmScreen
    from tests.ui.test_keys import ROOT

    engine = replay(snapshots)
    app = make_app(engine)
    async with app.run_test(size=(120, 35)) as pilot:
        await polled(pilot, engine)
        await pilot.press("4")
        await pilot.press("k")
        assert isinstance(app.screen, ConfirmScreen)
        # the next polls see another backend under the same pid
        engine.snapshots = [
            dataclasses.replace(
                s,
                sessions=tuple(
                    dataclasses.replace(x, backend_start=None) if x.id == ROOT else x
                    for x in s.sessions
                ),
            )
            for s in engine.snapshots
        ]
        original = app.latest_result.snapshot.session(ROOT)
        assert original is not None and original.backend_start is not None
        app.poller.refresh_now()

        def replaced() -> bool:
            seen = app.latest_result.snapshot.session(ROOT)
            return seen is not None and seen.backend_start is None

        await until(pilot, replaced, "a poll that sees the new backend")
        await pilot.press("y")
        await settled(pilot)
        assert engine.kills == []
