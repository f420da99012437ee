"""Every key of the main screen and of its dialogs, driven with Textual's Pilot on the
recorded PostgreSQL snapshot (a three-deep lock chain, a long query, an idle session)."""

from __future__ import annotations

import asyncio
import dataclasses
import io

from rich.console import Console
from textual.command import CommandList, CommandPalette
from textual.widgets import Tree

from dbtop.errors import ConnectError
from dbtop.model import Feature, KillMode
from dbtop.ui.app import AppSettings, DbtopApp
from dbtop.ui.panes.base import Pane
from dbtop.ui.screens.confirm import ConfirmScreen
from dbtop.ui.screens.details import DetailsScreen, field_rows
from dbtop.ui.screens.help import HelpScreen
from dbtop.ui.screens.main import MainScreen
from dbtop.ui.screens.plan import PlanScreen
from dbtop.ui.screens.suggest import SuggestScreen
from dbtop.ui.widgets.rowtable import RowTable
from tests.ui.conftest import make_app, polled, replay, until
from tests.waiting import settled

ROOT, MIDDLE, LEAF, BATCH, TRICKY, IDLE = "9675", "9676", "9677", "9678", "9679", "9680"


def plain(renderable) -> str:
    console = Console(width=120, file=io.StringIO(), record=True)
    console.print(renderable)
    return console.export_text()


def main_screen(app) -> MainScreen:
    assert app.main_screen is not None
    return app.main_screen


def table(app, table_id: str) -> RowTable:
    return main_screen(app).query_one(f"#{table_id}", RowTable)


def sessions_shown(app) -> list[str]:
    return table(app, "sessions-table").ordered_keys


async def test_number_keys_and_tab_move_between_panes(engine):
    app = make_app(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await polled(pilot, engine)
        screen = main_screen(app)
        assert not screen.wide and screen.active_pane == "sessions"
        assert app.focused is table(app, "sessions-table")
        for key, pane_id in (
            ("2", "statements"),
            ("3", "indexes"),
            ("4", "locks"),
            ("1", "sessions"),
        ):
            await pilot.press(key)
            assert screen.active_pane == pane_id
            pane = screen.pane(pane_id)
            assert pane.display and pane.has_class("-active")
            assert app.focused in pane.tables
            others = [p for p in screen.panes if p is not pane]
            assert all(not p.has_class("-active") for p in others)
        await pilot.press("tab")
        assert screen.active_pane == "statements"
        await pilot.press("shift+tab")
        assert screen.active_pane == "sessions"
        await pilot.press("shift+tab")
        assert screen.active_pane == "locks"


async def test_all_four_panes_show_at_once_on_a_large_terminal(engine):
    app = make_app(engine)
    async with app.run_test(size=(200, 50)) as pilot:
        await polled(pilot, engine)
        screen = main_screen(app)
        assert screen.wide
        assert all(p.region.width > 0 and p.region.height > 0 for p in screen.panes)
        # Every pane got the snapshot, not only the focused one.
        assert all(p.result is app.latest_result for p in screen.panes)
        await pilot.press("tab")
        assert app.focused is table(app, "statements-table")
        await pilot.resize_terminal(100, 30)
        await pilot.pause()
        assert not screen.wide
        assert [p.pane_id for p in screen.panes if p.display and p.region.height] == ["statements"]


async def test_sessions_stand_out_and_idle_toggles(engine):
    app = make_app(engine)
    async with app.run_test(size=(120, 30)) as pilot:
        await polled(pilot, engine)
        t = table(app, "sessions-table")
        flags = {key: t.row(key).cells[0] for key in t.ordered_keys}
        kinds = {key: t.row(key).kind for key in t.ordered_keys}
        assert flags[ROOT] == "B" and kinds[ROOT] == "alarm"
        assert flags[MIDDLE] == "W" and flags[LEAF] == "W" and kinds[LEAF] == "warning"
        assert IDLE not in flags, "idle sessions are hidden at first"
        own = next(k for k in t.ordered_keys if t.row(k).cells[0] == "*")
        assert kinds[own] == "muted"
        await pilot.press("a")
        assert IDLE in sessions_shown(app)
        await pilot.press("a")
        assert IDLE not in sessions_shown(app)


async def test_sort_cycles_and_reverses_keeping_the_cursor(engine):
    app = make_app(engine)
    async with app.run_test(size=(90, 30)) as pilot:
        await polled(pilot, engine)
        t = table(app, "sessions-table")
        assert t.sort_column.key == "duration" and t.sort_descending
        await pilot.press("down", "down")
        chosen = t.cursor_key
        await pilot.press("s")
        assert t.sort_column.key == "wait", "xact is hidden at this width"
        assert t.cursor_key == chosen
        await pilot.press("s", "s")
        assert t.sort_column.key == "query"
        await pilot.press("s")
        assert t.sort_column.key == "flag", "after the last column, the first"
        await pilot.press("s", "s", "s", "s", "s")
        assert t.sort_column.key == "state", "columns hidden at this width are skipped"
        await pilot.press("s", "s", "s", "s", "s")
        assert t.sort_column.key == "flag"
        assert t.ordered_keys[0] == ROOT, "the root blocker sorts first by flag"
        await pilot.press("S")
        assert not t.sort_descending
        assert t.cursor_key == chosen


async def test_filter_narrows_every_column_and_escape_clears(engine):
    app = make_app(engine)
    async with app.run_test(size=(120, 30)) as pilot:
        await polled(pilot, engine)
        t = table(app, "sessions-table")
        before = len(t.ordered_keys)
        await pilot.press("slash")
        assert app.focused.id == "filter"
        await pilot.press(*"ui-rep")
        assert t.ordered_keys == [MIDDLE]
        await pilot.press("enter")
        assert app.focused is t and t.filter_text == "ui-rep"
        assert "/ui-rep" in (main_screen(app).pane("sessions").border_subtitle or "")
        await pilot.press("slash", "escape")
        assert t.filter_text == "" and len(t.ordered_keys) == before
        assert app.focused is t


async def test_space_pauses_and_plus_minus_change_the_interval(engine):
    app = make_app(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await polled(pilot, engine)
        await pilot.press("space")
        assert app.poller.paused
        header = main_screen(app).query_one("#header")
        assert "PAUSED" in header.render().plain
        polls = engine.polls
        await pilot.press("r")
        await settled(pilot)  # a poll asked for now would have started by then
        assert engine.polls == polls, "paused: no poll, not even on request"
        await pilot.press("space")
        assert not app.poller.paused
        await pilot.press("minus")
        assert app.poller.interval_s == 60.0
        await pilot.press("minus", "minus")
        assert app.poller.interval_s == 10.0
        await pilot.press("plus")
        assert app.poller.interval_s == 30.0
        assert "every 30s" in header.render().plain


async def test_r_polls_now(engine):
    app = make_app(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await polled(pilot, engine, polls=1)
        await pilot.press("r")
        await polled(pilot, engine, polls=2)
        assert engine.polls >= 2


async def test_enter_shows_every_field_and_c_copies_the_query(engine):
    app = make_app(engine)
    async with app.run_test(size=(120, 35)) as pilot:
        await polled(pilot, engine)
        t = table(app, "sessions-table")
        t.move_cursor_to(MIDDLE)
        await pilot.press("enter")
        assert isinstance(app.screen, DetailsScreen)
        text = app.screen.query_one("#details-text").text
        assert text == "LOCK TABLE dbtop_ui_accounts IN SHARE MODE"
        fields = dict(field_rows(app.screen._item))
        assert fields["application"] == "dbtop-ui-report"
        assert fields["blocked_by"] == ROOT
        assert fields["extra.wait_event"] == "relation"
        await pilot.press("c")
        assert app.clipboard == text
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_k_asks_then_cancels_and_n_does_nothing(engine):
    app = make_app(engine)
    async with app.run_test(size=(120, 35)) as pilot:
        await polled(pilot, engine)
        await pilot.press("4")
        assert table(app, "locks-table").cursor_key == ROOT
        await pilot.press("k")
        assert isinstance(app.screen, ConfirmScreen)
        body = plain(app.screen._body)
        assert "dbtop-ui-billing" in body and "UPDATE dbtop_ui_accounts" in body
        # The root is idle in a transaction: a cancel would do nothing, k offers terminate.
        assert "Terminate" in str(app.screen.query_one("#confirm-box").border_title)
        assert "Cancel does nothing here" in plain(app.screen._body)
        await pilot.press("n")
        assert engine.kills == []
        await pilot.press("k", "y")
        await settled(pilot)
        assert engine.kills == [(ROOT, KillMode.TERMINATE)]
        # the engine gets the session as confirmed, to check it again before sending
        (confirmed,) = engine.expected
        assert confirmed is not None and confirmed.id == ROOT
        assert confirmed.backend_start is not None
        await pilot.press("K")
        assert "Terminate" in app.screen.query_one("#confirm-box").border_title
        await pilot.press("y")
        await settled(pilot)
        assert engine.kills[-1] == (ROOT, KillMode.TERMINATE)
        # Enter on the focused "No" button declines.
        await pilot.press("K", "enter")
        await settled(pilot)
        assert len(engine.kills) == 2


async def test_kill_refuses_dbtops_own_connection(engine):
    app = make_app(engine)
    async with app.run_test(size=(120, 35)) as pilot:
        await polled(pilot, engine)
        t = table(app, "sessions-table")
        own = next(k for k in t.ordered_keys if t.row(k).cells[0] == "*")
        t.move_cursor_to(own)
        await pilot.press("k")
        assert isinstance(app.screen, MainScreen)
        assert engine.kills == []


async def test_e_shows_the_plan_tree_and_j_the_raw_json(engine):
    app = make_app(engine)
    async with app.run_test(size=(120, 35)) as pilot:
        await polled(pilot, engine)
        table(app, "sessions-table").move_cursor_to(MIDDLE)
        await pilot.press("e")
        await settled(pilot)
        screen = app.screen
        assert isinstance(screen, PlanScreen)
        assert engine.explains == [{"query": None, "session_id": MIDDLE, "analyze": False}]
        tree = screen.query_one(Tree)
        labels = [node.label.plain for node in _walk(tree.root)]
        assert any("Seq Scan on dbtop_ui_orders" in label for label in labels)
        assert sum("costliest" in label for label in labels) == 1
        await pilot.press("j")
        assert screen.query_one("#plan-switcher").current == "plan-json"
        assert '"Node Type"' in screen.query_one("#plan-json").text
        await pilot.press("c")
        assert '"Node Type"' in app.clipboard
        await pilot.press("j", "escape")
        assert isinstance(app.screen, MainScreen)


def _walk(node):
    for child in node.children:
        yield child
        yield from _walk(child)


async def test_e_on_a_statement_explains_its_text(engine):
    app = make_app(engine)
    async with app.run_test(size=(120, 35)) as pilot:
        await polled(pilot, engine)
        await pilot.press("2", "e")
        await settled(pilot)
        assert isinstance(app.screen, PlanScreen)
        statement_query = engine.explains[0]["query"]
        assert statement_query and engine.explains[0]["session_id"] is None


async def test_shift_e_asks_before_explain_analyze(engine):
    app = make_app(engine)
    async with app.run_test(size=(120, 35)) as pilot:
        await polled(pilot, engine)
        await pilot.press("2")
        statements = table(app, "statements-table")
        plain_text = next(k for k in statements.ordered_keys if "$" not in statements.item(k).query)
        statements.move_cursor_to(plain_text)
        await pilot.press("E")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settled(pilot)
        assert isinstance(app.screen, PlanScreen)
        assert engine.explains[-1]["analyze"] is True


async def test_i_shows_suggestions_and_copies_the_statement(engine):
    app = make_app(engine)
    async with app.run_test(size=(120, 35)) as pilot:
        await polled(pilot, engine)
        await pilot.press("i")
        await settled(pilot)
        screen = app.screen
        assert isinstance(screen, SuggestScreen) and engine.suggests == 1
        detail = screen.query_one("#suggest-detail").render().plain
        assert "CREATE INDEX" in detail
        await pilot.press("c")
        assert app.clipboard.startswith("CREATE INDEX")
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_i_falls_back_to_the_snapshot_findings(snapshots):
    no_advisor = [
        dataclasses.replace(
            s,
            capabilities=dataclasses.replace(
                s.capabilities, features=s.capabilities.features - {Feature.SUGGEST}
            ),
        )
        for s in snapshots
    ]
    engine = replay(no_advisor)
    app = make_app(engine)
    async with app.run_test(size=(120, 35)) as pilot:
        await polled(pilot, engine)
        await pilot.press("i")
        await settled(pilot)
        screen = app.screen
        assert isinstance(screen, SuggestScreen) and engine.suggests == 0
        assert (
            "findings of the last snapshot" in screen.query_one("#suggest-summary").render().plain
        )
        kinds = [
            screen.query_one(RowTable).row(k).cells[0]
            for k in screen.query_one(RowTable).ordered_keys
        ]
        assert "unused_index" in kinds and "duplicate_index" in kinds


async def test_question_mark_lists_every_key_with_its_id(engine):
    app = make_app(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await polled(pilot, engine)
        await pilot.press("question_mark")
        screen = app.screen
        assert isinstance(screen, HelpScreen)
        ids = {row.binding_id for row in screen._keys}
        for expected in (
            "pane.sessions",
            "pane.locks",
            "session.cancel",
            "session.terminate",
            "query.explain",
            "advisor.suggest",
            "table.filter",
            "table.sort",
            "poll.pause",
            "poll.slower",
            "poll.faster",
            "row.details",
            "app.quit",
        ):
            assert expected in ids
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_keymap_remaps_a_binding_by_id(engine):
    app = make_app(engine, keymap={"session.cancel": "x"})
    async with app.run_test(size=(120, 35)) as pilot:
        await polled(pilot, engine)
        await pilot.press("4", "x")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n", "k")
        assert isinstance(app.screen, MainScreen), "k no longer cancels"


async def test_command_palette_runs_an_action(engine):
    app = make_app(engine)
    async with app.run_test(size=(120, 35)) as pilot:
        await polled(pilot, engine)
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
        await pilot.press(*"Locks")
        hits = app.screen.query_one(CommandList)

        def found() -> bool:
            return hits.option_count > 0 and "Locks" in str(hits.get_option_at_index(0).prompt)

        await until(pilot, found, "the palette's hit")
        await pilot.press("enter")
        await until(pilot, lambda: main_screen(app).active_pane == "locks", "the Locks pane")


async def test_q_quits_and_closes_the_connection(engine):
    app = make_app(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await polled(pilot, engine)
        await pilot.press("q")
        await until(pilot, lambda: app.return_code is not None, "the exit")
    assert app.return_code == 0
    assert engine.closed >= 1 and not engine.connected


async def test_rows_update_in_place_and_the_cursor_stays(snapshots):
    first, second = snapshots
    # Third poll: the batch query has run much longer, so it moves to the top.
    later = dataclasses.replace(
        second,
        monotonic=second.monotonic + 1,
        sessions=tuple(
            dataclasses.replace(s, duration_s=9999.0) if s.id == BATCH else s
            for s in second.sessions
        ),
    )
    engine = replay([first, second, later])
    app = make_app(engine)
    async with app.run_test(size=(120, 30)) as pilot:
        await polled(pilot, engine)
        t = table(app, "sessions-table")
        t.move_cursor_to(MIDDLE)
        before = t.ordered_keys
        untouched = t.row(ROOT)
        await polled(pilot, engine, polls=3)
        assert t.cursor_key == MIDDLE
        assert t.ordered_keys[0] == BATCH and t.ordered_keys != before
        assert t.row(ROOT) == untouched


async def test_pane_labels_come_from_the_engine(snapshots):
    labels = dataclasses.replace(
        snapshots[0].capabilities.labels,
        sessions="Clients",
        statements="Slow log",
        indexes="Keyspace",
        locks="Blocked",
    )
    relabelled = [
        dataclasses.replace(s, capabilities=dataclasses.replace(s.capabilities, labels=labels))
        for s in snapshots
    ]
    engine = replay(relabelled)
    app = make_app(engine)
    async with app.run_test(size=(200, 50)) as pilot:
        await polled(pilot, engine)
        titles = [str(p.border_title) for p in main_screen(app).query(Pane)]
        assert titles == [
            "1 Clients",
            "2 Slow log",
            "3 Keyspace",
            "4 Blocked",
            "5 Health",
            "6 Load",
        ]


async def test_a_hung_server_never_freezes_the_keys(snapshots):
    engine = replay(snapshots)
    hang = asyncio.Event()
    original = engine.snapshot

    async def hangs_after_the_first():
        if engine.polls >= 1:
            engine.polls += 1
            await hang.wait()
        return await original()

    engine.snapshot = hangs_after_the_first
    app = make_app(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await polled(pilot, engine, polls=1)
        await pilot.press("r")  # the next poll starts and never ends
        await until(pilot, lambda: engine.polls == 2, "the second poll to start")
        await pilot.press("4")
        assert main_screen(app).active_pane == "locks"
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape", "space")
        assert app.poller.paused
        hang.set()


async def test_a_lost_server_shows_reconnecting_and_comes_back(snapshots, monkeypatch):
    monkeypatch.setattr("dbtop.poller.BACKOFF_FIRST_S", 0.2)
    engine = replay(snapshots)
    original = engine.snapshot
    down = {"now": False}

    async def flaky():
        if down["now"]:
            raise ConnectError("server closed the connection unexpectedly")
        return await original()

    engine.snapshot = flaky
    app = make_app(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await polled(pilot, engine, polls=1)
        header = main_screen(app).query_one("#header")
        down["now"] = True
        app.poller.refresh_now()
        await until(pilot, lambda: "reconnecting" in header.render().plain, "reconnecting")
        text = header.render().plain
        assert "reconnecting" in text and "closed the connection" in text
        down["now"] = False
        shown = app.results_shown
        # the server that came back is picked up
        await until(pilot, lambda: app.results_shown > shown, "the next snapshot")
        await pilot.pause()
        assert "live" in header.render().plain


async def test_on_ready_is_called_once_after_the_first_snapshot(snapshots):
    engine = replay(snapshots)
    calls = []
    app = DbtopApp(
        lambda: engine,
        AppSettings(interval_s=3600),
        on_ready=lambda: calls.append(app.results_shown),
        handle_signals=False,
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await polled(pilot, engine, polls=2)
        await until(pilot, lambda: calls, "the ready hook")
        await settled(pilot)
    assert len(calls) == 1 and calls[0] >= 1


async def test_polls_reach_the_main_screen_as_messages_while_a_dialog_is_open(engine):
    app = make_app(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await polled(pilot, engine, polls=1)
        screen = main_screen(app)
        first = screen.pane("sessions").result
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        shown = app.results_shown
        app.poller.refresh_now()
        await until(pilot, lambda: app.results_shown > shown, "the next snapshot counted")
        # counted by the app once the main screen (under the dialog) has shown it
        assert screen.pane("sessions").result is app.latest_result is not first


async def test_keys_follow_the_capabilities_of_the_latest_snapshot(snapshots):
    """e, E, k and K are offered from ``capabilities.has(Feature.X)``: a snapshot without
    them shows them disabled (the footer and help hear of it), and they do nothing."""
    missing = {Feature.EXPLAIN, Feature.EXPLAIN_ANALYZE, Feature.CANCEL, Feature.TERMINATE}
    engine = replay(
        [
            dataclasses.replace(
                s,
                capabilities=dataclasses.replace(
                    s.capabilities, features=s.capabilities.features - missing
                ),
            )
            for s in snapshots
        ]
    )
    app = make_app(engine)
    async with app.run_test(size=(120, 35)) as pilot:
        await polled(pilot, engine)
        screen = main_screen(app)
        for action, params in (
            ("explain", ()),
            ("explain_analyze", ()),
            ("kill", ("cancel",)),
            ("kill", ("terminate",)),
        ):
            assert screen.check_action(action, params) is None, action
        shown = {b.binding.id: b.enabled for b in screen.active_bindings.values()}
        assert shown["query.explain"] is False and shown["session.cancel"] is False
        await pilot.press("e", "k")
        await settled(pilot)
        assert isinstance(app.screen, MainScreen)
        assert engine.explains == [] and engine.kills == []
