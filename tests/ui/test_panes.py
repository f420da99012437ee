"""What the panes show: server text literally, engine-specific data (a Redis-like keyspace
and slow log), notices where they belong, and the row table's own behaviour."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from textual.app import App, ComposeResult

from dbtop.model import Feature, KeyPattern, Notice, PaneLabels, SlowEvent, Statement
from dbtop.ui.widgets.rowtable import Column, Row, RowTable
from tests.ui.conftest import make_app, polled, replay
from tests.ui.test_keys import TRICKY, main_screen, table
from tests.waiting import settled


def screen_text(table_widget: RowTable) -> list[str]:
    return [table_widget.render_line(y).text for y in range(table_widget.size.height)]


async def test_server_text_is_shown_literally(engine):
    app = make_app(engine, layout="tabs")
    async with app.run_test(size=(200, 40)) as pilot:
        await polled(pilot, engine)
        t = table(app, "sessions-table")
        row = t.row(TRICKY)
        assert row.cells[4] == "dbtop-ui-[blink]tricky[/]"
        assert "[bold red]not markup[/] \\x1b[31mred?" in row.cells[11]
        lines = "\n".join(screen_text(t))
        assert "[bold red]not markup[/]" in lines
        assert "\x1b" not in lines


def redis_like(snapshot):
    labels = PaneLabels(
        sessions="Clients", statements="Slow log", indexes="Keyspace", locks="Blocked"
    )
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    return dataclasses.replace(
        snapshot,
        capabilities=dataclasses.replace(
            snapshot.capabilities,
            labels=labels,
            notices=(Notice(Feature.INDEXES, "sampled 1,000 of 52,000 keys", "raise --sample"),),
        ),
        statements=(),
        indexes=(),
        tables=(),
        slow_events=(
            SlowEvent("17", "KEYS *", 812.5, at=at, client="10.0.0.7:51234"),
            SlowEvent("18", "HGETALL user:[b]1[/b]", 15.0, at=at),
        ),
        keyspace=(
            KeyPattern(
                "session:*",
                database="0",
                type="hash",
                sampled_keys=600,
                estimated_keys=31000,
                memory_bytes=48_000_000,
                no_ttl_share=0.25,
                biggest_key="session:9f2",
                biggest_key_bytes=900_000,
            ),
            KeyPattern(
                "queue:*",
                database="0",
                type="list",
                sampled_keys=3,
                memory_bytes=1200,
                no_ttl_share=1.0,
                biggest_key="queue:mail",
            ),
        ),
    )


async def test_keyspace_and_slow_log_replace_indexes_and_statements(snapshots):
    engine = replay([redis_like(s) for s in snapshots])
    app = make_app(engine, layout="grid")
    async with app.run_test(size=(200, 50)) as pilot:
        await polled(pilot, engine)
        screen = main_screen(app)
        assert not table(app, "statements-table").display
        events = table(app, "events-table")
        assert events.display and events.ordered_keys[0] in ("17", "18")
        assert events.row("18").cells[5] == "HGETALL user:[b]1[/b]"
        assert not table(app, "indexes-table").display
        keys = table(app, "keys-table")
        assert keys.display and keys.ordered_keys == ["0/session:*", "0/queue:*"]
        assert keys.row("0/session:*").cells[3] == "31,000"
        notices = screen.pane("indexes").query_one(".pane-notices")
        assert notices.display and "sampled 1,000 of 52,000 keys" in str(notices.render())
        assert str(screen.pane("indexes").border_title) == "3 Keyspace"
        await pilot.press("3", "e")
        await settled(pilot)
        assert engine.explains[-1]["query"] == "session:9f2"


async def test_statements_without_rates_sort_and_show_totals(snapshots):
    first = snapshots[0]
    extra = Statement("x1", "SELECT 1", calls=5, total_ms=50.0, rows=5)
    engine = replay([dataclasses.replace(first, statements=(*first.statements, extra))])
    app = make_app(engine)
    async with app.run_test(size=(120, 30)) as pilot:
        await polled(pilot, engine, polls=1)
        await pilot.press("2")
        t = table(app, "statements-table")
        row = t.row("x1")
        assert row.cells[0] == "" and row.cells[4] == "5" and row.cells[6] == "10.0ms"


class TableApp(App[None]):
    def __init__(self, rows: list[Row]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        yield RowTable(
            (
                Column("name", "name", 10, descending=False),
                Column("value", "value", 8, align="right"),
                Column("note", "note", 10, flex=True, optional=1),
            ),
            sort_column="value",
        )

    def on_mount(self) -> None:
        self.query_one(RowTable).set_rows(self.rows)


def rows(values: dict[str, float | None]) -> list[Row]:
    return [
        Row(k, (k, "-" if v is None else f"{v:g}", f"note {k}"), (k, v, k))
        for k, v in values.items()
    ]


async def test_row_table_sorts_keeps_the_cursor_and_ignores_unchanged_updates():
    app = TableApp(rows({"a": 1, "b": 3, "c": None, "d": 2}))
    async with app.run_test(size=(40, 10)) as pilot:
        t = app.query_one(RowTable)
        assert t.ordered_keys == ["b", "d", "a", "c"], "largest first, unknown last"
        t.move_cursor_to("a")
        t.set_rows(rows({"a": 10, "b": 3, "c": None, "d": 2}))
        assert t.ordered_keys[0] == "a" and t.cursor_key == "a"
        t.set_rows(rows({"b": 3, "c": None, "d": 2}))
        assert t.cursor_key in ("b", "d", "c"), "the row went: the cursor stays on its line"
        await pilot.click(RowTable, offset=(12, 0))  # the "value" header reverses the sort
        assert not t.sort_descending and t.ordered_keys == ["d", "b", "c"]
        await pilot.press("end")
        assert t.cursor_key == "c"
        await pilot.press("home")
        assert t.cursor_key == "d"
        await pilot.resize_terminal(20, 10)
        await pilot.pause()
        header = t.render_line(0).text
        assert "note" not in header and "name" in header, "optional columns give way"


async def test_row_table_filter_matches_any_column():
    app = TableApp(rows({"alpha": 1, "beta": 2, "gamma": 3}))
    async with app.run_test(size=(40, 10)):
        t = app.query_one(RowTable)
        t.set_filter("NOTE GAM")
        assert t.ordered_keys == ["gamma"]
        t.set_filter("nothing")
        assert t.ordered_keys == [] and "no row matches" in t.render_line(1).text
        t.set_filter("")
        assert len(t.ordered_keys) == 3
