"""The UI's side of MongoDB: the idle toggle reaches the engine (and survives a
reconnect), the profiler offer, the statements' examined counters, the lock queue in the
header; driven with Pilot on a MongoDB-like test double (tests/ui/mongo_like.py)."""

from __future__ import annotations

from textual.widgets import Footer, Input, Static
from textual.widgets._footer import FooterKey

from dbtop.errors import ConnectError
from dbtop.model import Snapshot
from dbtop.ui.app import AppSettings, DbtopApp
from dbtop.ui.format import rate
from dbtop.ui.screens.details import DetailsScreen
from dbtop.ui.screens.help import HelpScreen
from dbtop.ui.screens.profiler import ProfilerScreen
from dbtop.ui.widgets.header import lock_queue
from tests.ui.conftest import FROZEN_CLOCK, TEST_INTERVAL, make_app, polled, until
from tests.ui.mongo_like import MongoLikeEngine
from tests.ui.test_keys import IDLE, main_screen, plain, sessions_shown, table


async def next_poll(pilot, app: DbtopApp) -> None:
    shown = app.results_shown
    app.poller.refresh_now()
    await until(pilot, lambda: app.results_shown > shown, "a new snapshot shown")
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
        # the poller reconnects on a new engine
        await until(pilot, lambda: len(engines) > 1, "a reconnect on a new engine")
        down["now"] = False
        assert not engines[-1].include_idle, "the user's choice, not the start-up setting"


def footer_keys(app: DbtopApp) -> set[str]:
    screen = main_screen(app)
    return {b.binding.id for b in screen.active_bindings.values() if b.binding.id}


async def open_profiler(pilot, app: DbtopApp) -> ProfilerScreen:
    await pilot.press("2")
    await pilot.pause()
    assert "statements.profiler" in footer_keys(app)
    await pilot.press("p")
    await pilot.pause()
    assert isinstance(app.screen, ProfilerScreen)
    return app.screen


async def test_profiler_key_only_in_the_slow_queries_pane(snapshots: list[Snapshot]):
    engine = MongoLikeEngine(snapshots)
    app = make_app(engine, layout="tabs")
    async with app.run_test(size=(120, 30)) as pilot:
        await polled(pilot, engine)
        assert "statements.profiler" not in footer_keys(app), "not in the Sessions pane"
        await pilot.press("p")
        assert not isinstance(app.screen, ProfilerScreen)
        await pilot.press("2")
        await pilot.pause()
        assert "statements.profiler" in footer_keys(app)
        footer = app.screen.query_one(Footer)
        assert any(k.description == "Profiler on" for k in footer.query(FooterKey))
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert "statements.profiler" in plain(app.screen._content())
        await pilot.press("escape")
        await pilot.press("3")
        await pilot.pause()
        assert "statements.profiler" not in footer_keys(app)


async def test_profiler_turned_on_after_choosing_database_and_threshold(
    snapshots: list[Snapshot],
):
    engine = MongoLikeEngine(snapshots)
    app = make_app(engine, layout="tabs")
    async with app.run_test(size=(100, 30)) as pilot:
        await polled(pilot, engine)
        await pilot.press("2")
        await pilot.pause()
        notices = main_screen(app).pane("statements").query_one(".pane-notices", Static)
        assert "the profiler is off" in str(notices.render())
        dialog = await open_profiler(pilot, app)
        body = plain(dialog.query_one("#profiler-explanation", Static).render())
        assert "write on the server" in body
        assert dialog.database == "shop"
        await pilot.press("enter")  # a stray Enter on the list picks, never confirms
        assert app.screen is dialog and engine.profiling == []
        await pilot.press("down", "enter")
        assert dialog.database == "billing"
        slowms = dialog.query_one("#profiler-slowms", Input)
        assert slowms.value == "100"
        slowms.focus()
        await pilot.press("ctrl+u", *"250", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not isinstance(app.screen, ProfilerScreen)
        assert engine.profiling == [("billing", 250, 1)]
        assert any(
            "profiler of billing: level 1, slowms 250" in n.message for n in app._notifications
        )


async def test_profiler_dialog_cancels_and_checks_the_threshold(snapshots: list[Snapshot]):
    engine = MongoLikeEngine(snapshots)
    app = make_app(engine, layout="tabs")
    async with app.run_test(size=(100, 30)) as pilot:
        await polled(pilot, engine)
        dialog = await open_profiler(pilot, app)
        await pilot.press("escape")
        assert app.screen is not dialog
        dialog = await open_profiler(pilot, app)
        slowms = dialog.query_one("#profiler-slowms", Input)
        slowms.value = ""
        await pilot.click("#profiler-yes")
        await pilot.pause()
        assert app.screen is dialog, "no threshold: the dialog stays and says why"
        error = dialog.query_one("#profiler-error", Static)
        assert error.display and "whole number" in str(error.render())
        await pilot.click("#profiler-no")
        await pilot.pause()
        assert app.screen is not dialog and engine.profiling == []


async def test_profiler_refusal_is_shown_on_one_line(snapshots: list[Snapshot]):
    engine = MongoLikeEngine(snapshots, refuse_profiling="not authorized on shop\nto profile")
    app = make_app(engine, layout="tabs")
    async with app.run_test(size=(100, 30)) as pilot:
        await polled(pilot, engine)
        await open_profiler(pilot, app)
        await pilot.click("#profiler-yes")
        await app.workers.wait_for_complete()
        await pilot.pause()
        errors = [n for n in app._notifications if n.severity == "error"]
        assert errors and errors[-1].message == "not authorized on shop to profile"


async def test_profiler_is_absent_in_read_only_mode(snapshots: list[Snapshot]):
    engine = MongoLikeEngine(snapshots)
    app = make_app(engine, layout="tabs", read_only=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await polled(pilot, engine)
        await pilot.press("2")
        await pilot.pause()
        assert "statements.profiler" not in footer_keys(app)
        await pilot.press("p")
        await pilot.pause()
        assert not isinstance(app.screen, ProfilerScreen) and engine.profiling == []


async def test_profiler_is_absent_for_engines_without_the_switch(engine):
    app = make_app(engine, layout="tabs")
    async with app.run_test(size=(100, 30)) as pilot:
        await polled(pilot, engine)
        await pilot.press("2")
        await pilot.pause()
        assert "statements.profiler" not in footer_keys(app)


async def test_examined_per_second_column_only_where_statements_have_it(
    snapshots: list[Snapshot],
):
    engine = MongoLikeEngine(snapshots)
    app = make_app(engine, layout="tabs")
    async with app.run_test(size=(120, 30)) as pilot:
        await polled(pilot, engine)
        await pilot.press("2")
        await pilot.pause()
        t = table(app, "statements-table")
        header = t.render_line(0).text
        assert "examined/s" in header
        snapshot = app.latest_result.snapshot
        busy = max(snapshot.statements, key=lambda s: s.calls)
        now = snapshot.rates.statements[busy.id]
        assert now.counters["docs_examined"] > 0
        assert t.row(busy.id).cells[2] == rate(now.counters["docs_examined"])
        await pilot.press("s")  # the next column after the default sort's
        t.sort_by("examined_s")
        assert t.ordered_keys[0] == busy.id
        await pilot.resize_terminal(90, 24)
        await pilot.pause()
        header = t.render_line(0).text
        assert "examined/s" in header and "rows" not in header, "kept longer than rows when narrow"


async def test_postgresql_statements_have_no_examined_column(engine):
    app = make_app(engine, layout="tabs")
    async with app.run_test(size=(120, 30)) as pilot:
        await polled(pilot, engine)
        await pilot.press("2")
        await pilot.pause()
        t = table(app, "statements-table")
        assert "examined" not in t.render_line(0).text
        await pilot.press("s", "s", "s", "s", "s")
        assert t.sort_column.key != "examined_s"


async def test_statement_details_list_each_counter_with_its_rate(snapshots: list[Snapshot]):
    engine = MongoLikeEngine(snapshots)
    app = make_app(engine, layout="tabs")
    async with app.run_test(size=(120, 40)) as pilot:
        await polled(pilot, engine)
        await pilot.press("2")
        await pilot.pause()
        t = table(app, "statements-table")
        snapshot = app.latest_result.snapshot
        busy = max(snapshot.statements, key=lambda s: s.calls)
        t.move_cursor_to(busy.id)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailsScreen)
        text = plain(app.screen._fields())
        now = snapshot.rates.statements[busy.id].counters
        lines = {line.split()[0]: line.split()[1:] for line in text.splitlines() if line.strip()}
        assert lines["docs_examined"] == [
            f"{busy.counters['docs_examined']:,.0f}",
            f"{now['docs_examined']:,.1f}",
        ]
        assert lines["keys_examined"][1] == f"{now['keys_examined']:,.1f}"
        assert "counters.docs_examined" not in text, "listed once, in the counters table"


async def test_header_shows_the_global_lock_queue(snapshots: list[Snapshot]):
    engine = MongoLikeEngine(snapshots)
    app = make_app(engine)
    async with app.run_test(size=(120, 30)) as pilot:
        await polled(pilot, engine)
        text = main_screen(app).query_one("#header").render().plain
        assert "queue 7" in text.splitlines()[1]


async def test_header_has_no_queue_without_one(engine):
    app = make_app(engine)
    async with app.run_test(size=(120, 30)) as pilot:
        await polled(pilot, engine)
        assert "queue" not in main_screen(app).query_one("#header").render().plain


def test_lock_queue_from_total_or_its_parts():
    assert lock_queue({}) is None
    assert lock_queue({"lock_queue": {"total": 3, "readers": 1, "writers": 2}}) == 3
    assert lock_queue({"lock_queue": {"total": None, "readers": 1, "writers": 2}}) == 3
    assert lock_queue({"lock_queue": {"total": None, "readers": None}}) is None
