"""Issue 12's screen items, each checked where it showed (Pilot, recorded snapshots):
top rows in view after a re-sort or pane switch, columns chosen by value at 80x24,
the Indexes pane naming its database, one interval display instead of a toast per
press, compact advisor notices, $n values asked before EXPLAIN ANALYZE, wrapped plan
lines, Tab pane to pane, details and help in each engine's words, the Locks root label."""

from __future__ import annotations

import dataclasses

from rich.cells import cell_len
from textual.app import App, ComposeResult
from textual.widgets import Input, Static

from dbtop.model import Feature, Notice, Session
from dbtop.ui.panes import indexes, locks
from dbtop.ui.screens.details import DetailsScreen
from dbtop.ui.screens.explain_values import ExplainValuesScreen
from dbtop.ui.screens.help import HelpScreen
from dbtop.ui.screens.plan import PlanScreen
from dbtop.ui.screens.suggest import SuggestScreen
from dbtop.ui.widgets.columns import fit_columns
from dbtop.ui.widgets.rowtable import Column, Row, RowTable
from tests.ui.conftest import make_app, polled, replay, without_locks
from tests.ui.recorded import ReplayEngine, load_advice, load_plan
from tests.ui.test_keys import main_screen, table
from tests.waiting import settled


def shown_columns(t: RowTable) -> list[str]:
    layout = t._layout_for(t.scrollable_content_region.width)
    return [t.columns[i].key for i, _x, _w in layout.spans]


# -- 1. the top rows stay in view ------------------------------------------------------


class _Table(App[None]):
    def compose(self) -> ComposeResult:
        yield RowTable([Column("n", "n", 6, align="right")], sort_column="n", id="t")


def _rows(first: str, value: float) -> list[Row]:
    rows = [Row(f"r{i}", (str(i),), (float(i),)) for i in range(30)]
    rows.append(Row(first, (str(value),), (value,)))
    return rows


async def test_a_resort_and_a_pane_switch_keep_the_top_rows_in_view():
    app = _Table()
    async with app.run_test(size=(20, 12)) as pilot:
        t = app.query_one(RowTable)
        t.set_rows(_rows("hot", 100.0))
        await pilot.pause()
        assert t.cursor_key == "hot" and t.scroll_y == 0
        t.set_rows(_rows("hot", 25.5))  # the row under the cursor falls to the 5th place
        await pilot.pause()
        assert t.ordered_keys.index("hot") == 4
        assert t.scroll_y == 0, "the four costlier rows above the cursor stay on screen"
        t.display = False  # a pane switch: updates while the table has no height
        t.set_rows(_rows("hot", 20.5))
        await pilot.pause()
        t.display = True
        await settled(pilot)
        assert t.scroll_y == 0, "shown again: from the top row"


# -- 2. columns by value, blank ones first ---------------------------------------------


async def test_at_80x24_sessions_keep_user_database_wait_and_who_blocks(snapshots):
    engine = replay(snapshots)
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await polled(pilot, engine)
        shown = shown_columns(table(app, "sessions-table"))
        assert {
            "id",
            "state",
            "duration",
            "query",
            "blocked_by",
            "wait",
            "user",
            "database",
        } <= set(shown)


async def test_at_80x24_without_locks_the_blank_blocked_by_makes_room(snapshots):
    engine = replay([without_locks(s) for s in snapshots])
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await polled(pilot, engine)
        shown = shown_columns(table(app, "sessions-table"))
        assert "blocked_by" not in shown
        assert {"user", "database", "application", "wait"} <= set(shown)


def test_a_blank_column_goes_before_a_useful_one():
    # MariaDB's Indexes pane without per-index rates: seven "PRIMARY" rows need their table
    layout = fit_columns(indexes.INDEX_COLUMNS, (), 77, empty={"scans_s"})
    keys = [indexes.INDEX_COLUMNS[i].key for i, _x, _w in layout.spans]
    assert "table" in keys and "scans_s" not in keys
    wide = fit_columns(indexes.INDEX_COLUMNS, (), 200, empty={"scans_s"})
    assert len(wide.spans) == len(indexes.INDEX_COLUMNS), "blank columns go only for room"


def test_the_locks_root_label_fits_at_100_columns():
    layout = fit_columns(locks.COLUMNS, (), 97)
    (session,) = [w for i, _x, w in layout.spans if locks.COLUMNS[i].key == "session"]
    assert session >= cell_len("4194304 ▲24 (3 direct)")


# -- 3. the Indexes pane says whose indexes ----------------------------------------------


async def test_the_indexes_pane_names_its_database(snapshots):
    def scoped(s):
        extra = {**s.capabilities.extra, "indexes_of": "shop"}
        return dataclasses.replace(s, capabilities=dataclasses.replace(s.capabilities, extra=extra))

    engine = replay([scoped(s) for s in snapshots])
    app = make_app(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await polled(pilot, engine)
        await pilot.press("3")
        title = str(main_screen(app).pane("indexes").border_title)
        assert "database shop only" in title


# -- 4. + and - ------------------------------------------------------------------------


async def test_plus_and_minus_show_the_interval_without_stacking_toasts(engine):
    app = make_app(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await polled(pilot, engine)
        before = len(app._notifications)
        await pilot.press("minus", "minus", "minus", "plus")
        await pilot.pause()
        assert len(app._notifications) == before
        header = main_screen(app).query_one("#header")
        assert f"every {app.poller.interval_s:g}s" in header.render().plain


# -- 5. the advisor's notices ----------------------------------------------------------


async def test_advisor_notices_take_one_line_each_until_asked(snapshots):
    long = Notice(
        Feature.SUGGEST,
        "hypopg is not installed in this database: suggestions come from plan analysis "
        "and are not verified",
        "install hypopg (Debian: postgresql-15-hypopg), then CREATE EXTENSION hypopg",
    )
    advice = dataclasses.replace(load_advice(), notices=(long,))
    engine = ReplayEngine(list(snapshots), plan=load_plan(), advice=advice)
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await polled(pilot, engine)
        await pilot.press("i")
        await settled(pilot)
        assert isinstance(app.screen, SuggestScreen)
        summary = app.screen.query_one("#suggest-summary", Static)
        assert summary.size.height == 2, "the counts, then one line for the notice"
        await pilot.press("n")
        await settled(pilot)
        assert summary.size.height > 2, "n shows it in full"


# -- 6. E on a statement with $n --------------------------------------------------------


async def test_shift_e_on_a_parameterized_statement_asks_for_values_first(engine):
    app = make_app(engine)
    async with app.run_test(size=(120, 35)) as pilot:
        await polled(pilot, engine)
        await pilot.press("2")
        statements = table(app, "statements-table")
        key = next(k for k in statements.ordered_keys if statements.item(k).query.endswith("= $1"))
        statements.move_cursor_to(key)
        query = statements.item(key).query
        await pilot.press("E")
        assert isinstance(app.screen, ExplainValuesScreen), "said before any confirmation"
        box = app.screen.query_one(Input)
        await pilot.press("enter")
        assert isinstance(app.screen, ExplainValuesScreen), "$1 still has no value"
        assert "$1" in str(app.screen.query_one("#values-error", Static).render())
        box.value = query.replace("$1", "42")
        await pilot.press("enter")
        await settled(pilot)
        assert isinstance(app.screen, PlanScreen)
        assert engine.explains[-1] == {
            "query": query.replace("$1", "42"),
            "session_id": None,
            "analyze": True,
        }
        await pilot.press("escape", "E", "ctrl+g")
        await settled(pilot)
        assert engine.explains[-1] == {"query": query, "session_id": None, "analyze": False}


# -- 7. plan lines wrap -----------------------------------------------------------------


async def test_plan_lines_wrap_instead_of_being_cut(engine):
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await polled(pilot, engine)
        await pilot.press("4", "down", "e")
        await settled(pilot)
        screen = app.screen
        assert isinstance(screen, PlanScreen)
        assert screen.query_one("#plan-switcher").current == "plan-wrapped"
        wrapped = screen.query_one("#plan-wrapped-text", Static)
        lines = [strip.text for strip in wrapped.render_lines(wrapped.region.reset_offset)]
        text = " ".join(" ".join(line.split()) for line in lines)
        assert "…" not in text
        assert all(line.rstrip() == line.rstrip()[: wrapped.size.width] for line in lines)
        await pilot.press("w")
        assert screen.query_one("#plan-switcher").current == "plan-tree"


# -- 8. Tab --------------------------------------------------------------------------


async def test_tab_goes_pane_to_pane_and_the_number_key_again_to_the_second_table(engine):
    app = make_app(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        await polled(pilot, engine)
        await pilot.press("3")
        screen = main_screen(app)
        assert table(app, "tables-table").display, "the pane has a second table"
        await pilot.press("tab")
        assert screen.active_pane == "locks"
        await pilot.press("3")
        assert app.focused is table(app, "indexes-table")
        await pilot.press("3")
        assert app.focused is table(app, "tables-table")
        await pilot.press("shift+tab")
        assert screen.active_pane == "statements"


# -- 10, 11. each engine's words ----------------------------------------------------------


REDIS_CLIENT = Session(
    "42",
    user="default",
    database="db0",
    application="worker",
    client="10.0.0.7:51234",
    kind="normal",
    state="blocked",
    query="BLPOP jobs 0",
    duration_s=12.0,
    extra={"flags": "b", "cmd": "blpop"},
)


async def test_redis_details_use_redis_words_and_leave_no_blank_rows(engine):
    app = make_app(engine)
    async with app.run_test(size=(100, 40)) as pilot:
        await polled(pilot, engine)
        await app.push_screen(DetailsScreen("Client 42", REDIS_CLIENT, engine="redis"))
        await settled(pilot)
        fields = app.screen.query_one("#details-table", Static)
        text = "\n".join(s.text for s in fields.render_lines(fields.region.reset_offset))
        for pg_word in ("xact_start", "xact_age_s", "in_transaction", "backend_start"):
            assert pg_word not in text
        assert "in MULTI" in text and "addr" in text and "extra.cmd" in text
        assert not any(line.split()[1:] == ["-"] for line in text.splitlines() if line.split())
        area = app.screen.query_one("#details-text")
        assert area.size.height <= 2, "a one-line command takes one line, not half the box"


async def test_help_says_what_each_key_does_on_this_engine(snapshots):
    for name, word in (("postgresql", "pg_cancel_backend"), ("redis", "CLIENT UNBLOCK")):
        engine = replay([dataclasses.replace(s, engine=name) for s in snapshots])
        app = make_app(engine)
        async with app.run_test(size=(120, 40)) as pilot:
            await polled(pilot, engine)
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            rows = {row.binding_id: row.description for row in app.screen._keys}
            assert word in rows["session.cancel"]
            assert "next column" in rows["table.sort"]


async def test_the_hypopg_notice_is_in_the_indexes_pane_not_a_header_row(snapshots):
    hypopg = Notice(
        Feature.HYPOTHETICAL_INDEXES,
        "hypopg is not created in this database: index suggestions are not verified",
        "CREATE EXTENSION hypopg",
    )
    shown = [
        dataclasses.replace(s, capabilities=dataclasses.replace(s.capabilities, notices=(hypopg,)))
        for s in snapshots
    ]
    engine = ReplayEngine(shown)
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await polled(pilot, engine)
        header = main_screen(app).query_one("#header")
        assert "hypopg" not in header.render().plain
        assert "hypopg" not in " ".join(str(w.render()) for w in header.query(Static)), (
            "no header row for it"
        )
        await pilot.press("3")
        await settled(pilot)
        pane = main_screen(app).pane("indexes")
        assert any("hypopg" in str(w.render()) for w in pane.query(Static)), "said here"
