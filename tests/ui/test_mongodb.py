"""The UI's side of MongoDB: the idle toggle reaches the engine (and survives a
reconnect), the profiler offer, the statements' examined counters, the lock queue in the
header; driven with Pilot on a MongoDB-like test double (tests/ui/mongo_like.py)."""

from __future__ import annotations

from dbtop.errors import ConnectError
from dbtop.model import Snapshot
from dbtop.ui.app import AppSettings, DbtopApp
from tests.ui.conftest import FROZEN_CLOCK, TEST_INTERVAL, make_app, polled
from tests.ui.mongo_like import MongoLikeEngine
from tests.ui.test_keys import IDLE, sessions_shown


async def next_poll(pilot, app: DbtopApp) -> None:
    shown = app.results_shown
    app.poller.refresh_now()
    for _ in range(300):
        await pilot.pause(0.01)
        if app.results_shown > shown:
            break
    else:
        raise AssertionError("no new snapshot shown")
    await pilot.pause()


async def test_idle_toggle_asks_the_engine_for_idle_sessions(snapshots: list[Snapshot]):
    engine = MongoLikeEngine(snapshots)
    app = make_app(engine)
    async with app.run_test(size=(120, 30)) as pilot:
        await polled(pilot, engine)
        assert engine.idle_asked == [False, False]
        await pilot.press("a")
        assert engine.include_idle and app.settings.show_idle
        await next_poll(pilot, app)
        assert engine.idle_asked[-1] is True
        assert IDLE in sessions_shown(app)
        await pilot.press("a")
        assert not engine.include_idle
        await next_poll(pilot, app)
        assert IDLE not in sessions_shown(app)


async def test_idle_choice_is_given_to_each_new_engine(snapshots: list[Snapshot], monkeypatch):
    monkeypatch.setattr("dbtop.poller.BACKOFF_FIRST_S", 0.05)
    engines: list[MongoLikeEngine] = []
    down = {"now": False}

    def factory() -> MongoLikeEngine:
        engine = MongoLikeEngine(snapshots)
        original = engine.snapshot

        async def flaky() -> Snapshot:
            if down["now"]:
                raise ConnectError("connection closed")
            return await original()

        engine.snapshot = flaky  # type: ignore[method-assign]
        engines.append(engine)
        return engine

    app = DbtopApp(
        factory,
        AppSettings(interval_s=TEST_INTERVAL, show_idle=True),
        clock=lambda: FROZEN_CLOCK,
        handle_signals=False,
    )
    async with app.run_test(size=(120, 30)) as pilot:
        await polled(pilot, engines[0], polls=1)
        assert engines[0].include_idle, "--show-idle (the setting) reaches the first engine"
        await pilot.press("a")
        assert not engines[0].include_idle
        down["now"] = True
        app.poller.refresh_now()
        for _ in range(300):
            await pilot.pause(0.01)
            if len(engines) > 1:
                break
        down["now"] = False
        assert len(engines) > 1, "the poller reconnected on a new engine"
        assert not engines[-1].include_idle, "the user's choice, not the start-up setting"
