"""The header tells the truth by the clock (issue 11, items 4, 5 and 9a).

The header reads the app's clock on a timer of its own; here that clock is one the test
moves (``Clock``), so "stale 1m01s" or "reconnecting in 35s" are reached without waiting for
them. What is checked is what the header has drawn (its rendered lines at its real height),
not what it would draw if asked: a header that is not redrawn, or whose third line has no
row, fails.
"""

from __future__ import annotations

import asyncio

import pytest

from dbtop import poller
from dbtop.errors import ConnectError, DbtopError
from dbtop.model import Snapshot
from dbtop.poller import PollState
from dbtop.ui.app import DbtopApp
from dbtop.ui.screens.help import HelpScreen
from dbtop.ui.screens.main import MainScreen
from dbtop.ui.widgets import header
from dbtop.ui.widgets.header import Header
from tests.ui.conftest import FROZEN_CLOCK, make_app, polled, replay, until
from tests.ui.recorded import ReplayEngine, load_advice, load_plan
from tests.waiting import settled

#: at -i 30 the poller gives up on a silent server after 90 s (max(10 s, 3 x interval)):
#: the header must say "stale" long before, after two intervals
INTERVAL = 30.0


class Clock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self, now: float = FROZEN_CLOCK) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class SilentEngine(ReplayEngine):
    """Answers the first poll, then goes silent: the next poll (or connection attempt)
    waits on an event the test sets only to let the app close quickly."""

    def __init__(
        self, snapshots: list[Snapshot], *, refuse: bool = False, hang_connect: bool = False
    ) -> None:
        super().__init__(list(snapshots), plan=load_plan(), advice=load_advice())
        self.release = asyncio.Event()
        self.refuse = refuse
        self.hang_connect = hang_connect
        self.connects = 0
        self.hanging = False

    async def connect(self) -> None:
        self.connects += 1
        if self.connects > 1:
            if self.hang_connect:
                self.hanging = True
                await self.release.wait()
            raise ConnectError("connection refused")
        await super().connect()

    async def snapshot(self) -> Snapshot:
        if self.polls >= 1:
            if self.refuse:
                raise ConnectError("connection refused")
            self.hanging = True
            await self.release.wait()
        return await super().snapshot()


def drawn(app: DbtopApp) -> list[str]:
    """The header's lines as drawn, as many as it has rows on screen."""
    header = app.screen.query_one(Header)
    return [header.render_line(y).text.rstrip() for y in range(header.size.height)]


def header_says(app: DbtopApp, *parts: str) -> bool:
    text = "\n".join(drawn(app))
    return all(part in text for part in parts)


async def test_stale_shows_while_a_poll_hangs_long_before_the_poll_timeout(snapshots):
    clock = Clock()
    engine = SilentEngine(snapshots)
    app = make_app(engine, clock=clock, interval_s=INTERVAL)
    async with app.run_test(size=(120, 35)) as pilot:
        await until(pilot, lambda: app.results_shown >= 1, "the first snapshot")
        await until(pilot, lambda: header_says(app, "● live"), "the header saying live")
        app.poller.refresh_now()  # the next poll: it hangs
        await until(pilot, lambda: engine.hanging, "the second poll to hang")
        clock.advance(2 * INTERVAL + 1)
        await until(pilot, lambda: header_says(app, "stale 1m01s"), "the header saying stale")
        assert "● live" not in drawn(app)[0]
        clock.advance(4)
        await until(pilot, lambda: header_says(app, "stale 1m05s"), "the stale age counting up")
        # the poller has not given up yet (its timeout is 90 s away): only the clock told
        assert app.poller.status.state is PollState.LIVE
        engine.release.set()


async def test_reconnect_line_names_the_error_and_counts_down(snapshots, monkeypatch):
    # the first retry is 20 s away (on the test's clock; the poller's own sleep is cut
    # short when the app stops)
    monkeypatch.setattr(poller, "BACKOFF_FIRST_S", 20.0)
    clock = Clock()
    engine = SilentEngine(snapshots, refuse=True)
    app = make_app(engine, clock=clock, interval_s=2.0)
    async with app.run_test(size=(120, 35)) as pilot:
        await polled(pilot, engine, polls=1)
        app.poller.refresh_now()  # this poll is refused: the connection is lost
        await until(
            pilot,
            lambda: app.poller.status.state is PollState.RECONNECTING,
            "the poller to reconnect",
        )
        await until(
            pilot,
            lambda: header_says(app, "reconnecting in 20s (attempt 1)", "! connection refused"),
            "the reconnect line with its reason",
        )
        clock.advance(15)
        await until(
            pilot,
            lambda: header_says(app, "reconnecting in 5s (attempt 1)", "connection refused"),
            "the countdown",
        )
        engine.release.set()


async def test_a_reconnect_attempt_that_hangs_counts_up(snapshots, monkeypatch):
    monkeypatch.setattr(poller, "BACKOFF_FIRST_S", 0.01)
    clock = Clock()
    engine = SilentEngine(snapshots, refuse=True, hang_connect=True)
    app = make_app(engine, clock=clock, interval_s=2.0)
    async with app.run_test(size=(120, 35)) as pilot:
        await polled(pilot, engine, polls=1)
        app.poller.refresh_now()
        await until(pilot, lambda: engine.hanging, "the reconnect attempt to hang")
        clock.advance(4)
        await until(
            pilot,
            lambda: header_says(app, "reconnecting… (attempt 1, 4s)", "! connection refused"),
            "the attempt in flight, counted",
        )
        clock.advance(3)
        await until(pilot, lambda: header_says(app, "(attempt 1, 7s)"), "the count going on")
        engine.release.set()


async def test_read_only_k_says_why_it_does_nothing(snapshots):
    engine = replay(snapshots, read_only=True)
    app = make_app(engine)
    async with app.run_test(size=(120, 35)) as pilot:
        await polled(pilot, engine)
        kill_keys = [
            b for b in app.screen.active_bindings.values() if b.binding.action.startswith("kill")
        ]
        # shown disabled (the footer greys k out), never enabled
        assert kill_keys and not any(b.enabled for b in kill_keys)
        for key in ("k", "K"):
            await pilot.press(key)
            await settled(pilot)
            assert isinstance(app.screen, MainScreen) and engine.kills == []
        said = [n.message for n in app._notifications]
        assert said.count("read-only mode: kill is refused") == 2
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        rows = {row.binding_id: row.description for row in app.screen._keys}
        for binding_id in ("session.cancel", "session.terminate"):
            assert rows[binding_id].endswith("(off: read-only mode: kill is refused)")


@pytest.mark.parametrize("roomy", [False, True])
async def test_the_reason_line_has_a_row_only_when_there_is_a_reason(snapshots, roomy):
    engine = SilentEngine(snapshots, refuse=True) if roomy else replay(snapshots)
    app = make_app(engine, interval_s=2.0)
    async with app.run_test(size=(120, 35)) as pilot:
        await polled(pilot, engine, polls=1)
        if roomy:
            app.poller.refresh_now()
            await until(pilot, lambda: len(drawn(app)) == 3, "the reason line's row")
            assert drawn(app)[2].startswith("! connection refused")
            engine.release.set()  # type: ignore[attr-defined]
        else:
            await settled(pilot)
            assert len(drawn(app)) == 2


class FlakyEngine(ReplayEngine):
    """The second poll fails (the connection stays), the others answer."""

    async def snapshot(self) -> Snapshot:
        if self.polls == 1:
            self.polls += 1
            raise DbtopError("canceling statement due to statement timeout")
        return await super().snapshot()


async def test_the_reason_row_is_kept_a_while_so_the_panes_do_not_jump(snapshots, monkeypatch):
    monkeypatch.setattr(poller, "BACKOFF_FIRST_S", 0.01)
    clock = Clock()
    engine = FlakyEngine(list(snapshots), plan=load_plan(), advice=load_advice())
    app = make_app(engine, clock=clock, interval_s=2.0)
    async with app.run_test(size=(120, 35)) as pilot:
        await polled(pilot, engine, polls=1)
        app.poller.refresh_now()  # fails, then the retry answers
        await until(pilot, lambda: engine.polls >= 3 and app.results_shown >= 2, "the retry")
        await until(pilot, lambda: app.poller.status.error is None, "the error cleared")
        await settled(pilot)
        # the reason is gone, its row stays (empty) for a while
        assert len(drawn(app)) == 3 and drawn(app)[2] == ""
        clock.advance(header.REASON_HOLD_S + 1)
        await until(pilot, lambda: len(drawn(app)) == 2, "the row given back")
