"""Moving through time with the Pilot: a replay's keys move every pane along the recorded
time line; the live TUI scrubs back through its history and returns to live."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest
from textual.pilot import Pilot

from dbtop.model import Snapshot
from dbtop.recording.writer import RecordingWriter
from dbtop.ui.app import AppSettings
from dbtop.ui.screens.main import MainScreen
from dbtop.ui.timeline.run import ReplayApp, replay_app
from dbtop.ui.widgets.header import Header
from dbtop.ui.widgets.timebar import TimeBar
from tests.ui.conftest import make_app, polled, replay, until, without_locks

#: the recording: the lock chain for the first minute, then none
CHAIN_S = 60
LENGTH = 120


def timed(snapshot: Snapshot, seconds: float) -> Snapshot:
    return dataclasses.replace(
        snapshot,
        taken_at=snapshot.taken_at + timedelta(seconds=seconds),
        monotonic=snapshot.monotonic + seconds,
        rates=None,
    )


@pytest.fixture
def recording(tmp_path: Path, snapshots: list[Snapshot]) -> Path:
    path = tmp_path / "ui.dbtoprec"
    writer = RecordingWriter(
        path,
        source="postgresql://postgres@127.0.0.1/dbtop_ui",
        engine="postgresql",
        interval_s=1.0,
    )
    first = snapshots[0]
    # the second recorded snapshot, on the first one's clock, without its lock chain
    calm = dataclasses.replace(
        without_locks(snapshots[1]), taken_at=first.taken_at, monotonic=first.monotonic
    )
    for n in range(LENGTH):
        writer.append(timed(first if n < CHAIN_S else calm, n))
    writer.close()
    return path


def shown_at(app: ReplayApp) -> float:
    assert app.latest_result is not None
    return app.latest_result.snapshot.taken_at.timestamp()


async def every_pane_shows(pilot: Pilot, app: ReplayApp, index: int) -> None:
    """Each of the four panes, brought on screen in turn, shows sample ``index``."""
    moment = app.recording.times[index]
    for key in ("1", "2", "3", "4"):
        await pilot.press(key)
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, MainScreen)
        pane = screen.pane(screen.active_pane)
        assert pane.result is not None
        assert pane.result.snapshot.taken_at.timestamp() == pytest.approx(moment)
    await pilot.press("1")


async def test_replay_keys_move_through_time_and_every_pane_follows(recording: Path) -> None:
    app = replay_app(recording, AppSettings(read_only=True, layout="tabs"), handle_signals=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: app.latest_result is not None, "the first sample")
        assert app.timeline.index == 0
        assert "REPLAY" in app.query_one(Header).render().plain
        assert app.query_one(TimeBar).display
        await every_pane_shows(pilot, app, 0)

        await pilot.press("right_curly_bracket")  # a minute on: the chain is gone
        await until(pilot, lambda: app.timeline.index == CHAIN_S, "a minute on")
        await every_pane_shows(pilot, app, CHAIN_S)
        assert app.latest_result is not None
        assert app.latest_result.snapshot.lock_waits == ()
        assert app.latest_result.forest.roots == ()

        await pilot.press("left_square_bracket")  # one sample back: inside the chain
        await until(pilot, lambda: app.timeline.index == CHAIN_S - 1, "one sample back")
        assert app.latest_result is not None and app.latest_result.snapshot.lock_waits
        await every_pane_shows(pilot, app, CHAIN_S - 1)
        # rates over the recorded interval, as live
        assert app.latest_result.snapshot.rates is not None
        assert app.latest_result.snapshot.rates.interval_s == pytest.approx(1.0)

        await pilot.press("right_square_bracket")
        await until(pilot, lambda: app.timeline.index == CHAIN_S, "one sample on")
        await pilot.press("left_curly_bracket")
        await until(pilot, lambda: app.timeline.index == 0, "a minute back")

        # kill is history's: refused with why, nothing sent anywhere
        await pilot.press("k")
        await pilot.pause()
        assert any("replay" in n.message for n in app._notifications)
        await pilot.press("plus")  # a recording has no refresh interval
        await pilot.pause()
        assert any("< and > set its speed" in n.message for n in app._notifications)

        # go to a time
        await pilot.press("g")
        await pilot.pause()
        for key in "+42":
            await pilot.press(key)
        await pilot.press("enter")
        await until(pilot, lambda: app.timeline.index == 42, "go to +42")
        assert shown_at(app) == pytest.approx(app.recording.times[42])

        # play at 60x until the end
        await pilot.press("greater_than_sign", "greater_than_sign")
        assert app.timeline.speed == 60  # type: ignore[attr-defined]
        await pilot.press("space")
        await until(pilot, lambda: app.timeline.index == LENGTH - 1, "played to the end", 20)
        await until(pilot, lambda: app.poller.paused, "stopped at the end")
        await pilot.press("g")
        await pilot.pause()
        await pilot.press("1", "enter")  # "1" is no time: one line says so
        await pilot.pause()
        assert app.timeline.index == LENGTH - 1


async def test_the_live_tui_scrubs_back_and_returns(snapshots: list[Snapshot]) -> None:
    series = [timed(snapshots[n % 2], n) for n in range(4)]
    engine = replay(series)
    app = make_app(engine, layout="tabs")
    async with app.run_test(size=(120, 36)) as pilot:
        await polled(pilot, engine, 3)
        assert not app.timeline.in_past
        assert not app.query_one(TimeBar).display
        newest = app.latest_result

        await pilot.press("left_square_bracket", "left_square_bracket")
        await until(pilot, lambda: app.timeline.index == 0, "two samples back")
        assert app.latest_result is not None
        assert app.latest_result.snapshot.taken_at == series[0].taken_at
        header = app.query_one(Header).render().plain
        assert "HISTORY" in header and "2.0s back" in header, header
        assert app.query_one(TimeBar).display
        screen = app.screen
        assert isinstance(screen, MainScreen)
        assert screen.pane("sessions").result is app.latest_result

        # polls go on meanwhile, kept and not shown
        app.poller.refresh_now()
        await until(pilot, lambda: engine.polls >= 4 and len(app.timeline.times) == 4, "a poll")
        assert app.latest_result.snapshot.taken_at == series[0].taken_at
        # kill acts on now: off while the past is shown
        await pilot.press("k")
        await pilot.pause()
        assert any("L returns to live" in n.message for n in app._notifications)
        assert engine.kills == []

        await pilot.press("L")
        await until(pilot, lambda: not app.timeline.in_past, "back to live")
        assert app.latest_result is not None and app.latest_result is not newest
        assert app.latest_result.snapshot.taken_at == series[3].taken_at
        assert "HISTORY" not in app.query_one(Header).render().plain
        assert not app.query_one(TimeBar).display


async def test_the_load_view_totals_equal_the_active_sessions_sampled(recording: Path) -> None:
    from dbtop.analysis.sessions import counts_as_active
    from dbtop.ui.panes.load import LoadPane

    app = replay_app(recording, AppSettings(read_only=True, layout="tabs"), handle_signals=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: app.latest_result is not None, "the first sample")
        await pilot.press("right_curly_bracket", "6")
        screen = app.screen
        assert isinstance(screen, MainScreen)
        pane = screen.pane("load")
        assert isinstance(pane, LoadPane)
        await until(pilot, lambda: pane.window is not None and pane.window.samples > 1, "load")
        assert pane.window is not None
        expected = [
            sum(1 for s in app.recording.snapshot(i).sessions if counts_as_active(s))
            for i in range(CHAIN_S + 1)
        ]
        assert pane.window.samples == len(expected)
        assert pane.window.aas == pytest.approx(sum(expected) / len(expected))
        # the view follows the time keys too
        await pilot.press("left_curly_bracket")
        await until(pilot, lambda: pane.window is not None and pane.window.samples == 1, "back")
        assert pane.window.aas == pytest.approx(expected[0])
        assert screen.query_one("#tabs").render().plain.count("6 Load") == 1


def _space_label(app: object) -> str:
    screen = app.screen  # type: ignore[attr-defined]
    assert isinstance(screen, MainScreen)
    return screen.active_bindings["space"].binding.description


async def test_the_footer_says_play_pause_for_space_in_a_replay(
    recording: Path, snapshots: list[Snapshot]
) -> None:
    app = replay_app(recording, AppSettings(read_only=True, layout="tabs"), handle_signals=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: app.latest_result is not None, "the first sample")
        assert _space_label(app) == "Play/pause"
        await pilot.press("space")  # it plays; the label stays
        await pilot.pause()
        assert _space_label(app) == "Play/pause"
    engine = replay(snapshots)
    live = make_app(engine, layout="tabs")
    async with live.run_test(size=(120, 36)) as pilot:
        await polled(pilot, engine, 1)
        assert _space_label(live) == "Pause"


async def test_the_load_view_in_replay_uses_the_recorded_wait_profile(
    tmp_path: Path, snapshots: list[Snapshot]
) -> None:
    """A recording of a server with pg_wait_sampling: the load view's figures are the
    profile's (counts over looks), and it says so."""
    from dbtop.analysis import load
    from dbtop.ui.panes.load import LoadPane
    from dbtop.waitprofile import WaitProfile

    path = tmp_path / "ws.dbtoprec"
    writer = RecordingWriter(
        path, source="postgresql://postgres@127.0.0.1/ws", engine="postgresql", interval_s=1.0
    )
    profile = WaitProfile(
        period_ms=10.0,
        seconds=1.0,
        looks=100,
        counts=((900001, "Lock:transactionid", None, 100), (900002, "IO:DataFileRead", 3, 40)),
    )
    for n in range(5):
        writer.append(
            dataclasses.replace(timed(without_locks(snapshots[1]), n), wait_profile=profile)
        )
    writer.close()
    app = replay_app(path, AppSettings(read_only=True, layout="tabs"), handle_signals=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: app.latest_result is not None, "the first sample")
        await pilot.press("L", "6")  # the end of the recording, then the load view
        screen = app.screen
        assert isinstance(screen, MainScreen)
        pane = screen.pane("load")
        assert isinstance(pane, LoadPane)
        await until(pilot, lambda: pane.window is not None and pane.window.samples == 5, "load")
        assert pane.window is not None
        assert dict(pane.window.by_class) == {load.LOCK: 1.0, load.IO: 0.4}
        assert pane.source_note.startswith("pg_wait_sampling every 10 ms: 100 samples per second")
