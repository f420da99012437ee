"""Issue 14: a poll whose sessions are the very tuple of the last one (a quiet Redis hands
it on) does not refill the sessions table, a pass over thousands of hidden idle rows;
new sessions, new lock waits or a new view do."""

from __future__ import annotations

import dataclasses

from dbtop.ui.widgets.rowtable import RowTable
from tests.ui.conftest import make_app, polled, replay
from tests.ui.test_keys import IDLE, sessions_shown, table


async def test_the_same_sessions_do_not_refill_the_table(snapshots, monkeypatch):
    first = snapshots[0]
    fewer = tuple(s for s in first.sessions if s.id != first.sessions[0].id)
    engine = replay(
        [
            first,
            # the same tuples, a second later
            dataclasses.replace(first, monotonic=first.monotonic + 1),
            dataclasses.replace(first, monotonic=first.monotonic + 2, sessions=fewer),
        ]
    )
    fills: list[int] = []
    set_items = RowTable.set_items

    def counted(self, items, build, sort_getter):
        if self.id == "sessions-table":
            fills.append(len(items))
        return set_items(self, items, build, sort_getter)

    monkeypatch.setattr(RowTable, "set_items", counted)
    app = make_app(engine)
    async with app.run_test(size=(120, 30)) as pilot:
        await polled(pilot, engine, polls=2)
        shown = sessions_shown(app)
        assert len(fills) == 1, "the second poll's sessions are the first's"
        assert shown and first.sessions[0].id in shown
        await polled(pilot, engine, polls=3)
        assert len(fills) == 2
        assert first.sessions[0].id not in sessions_shown(app)
        # a new view is a new fill (the replay now hands the same tuple on every poll)
        await pilot.press("a")
        assert len(fills) == 3
        assert IDLE in sessions_shown(app)
        await polled(pilot, engine, polls=5)
        assert len(fills) == 3
        assert IDLE in sessions_shown(app)
        counts = str(table(app, "sessions-table").parent.border_subtitle)
        assert f"of {len(fewer)}" in counts


async def test_the_same_slow_log_and_key_patterns_are_not_made_again(snapshots, monkeypatch):
    from tests.ui.test_panes import redis_like

    made: list[str] = []
    set_items = RowTable.set_items

    def counted(self, items, build, sort_getter):
        if self.id in ("events-table", "keys-table"):
            made.append(self.id)
        return set_items(self, items, build, sort_getter)

    monkeypatch.setattr(RowTable, "set_items", counted)
    last = redis_like(snapshots[-1])
    engine = replay([redis_like(snapshots[0]), last])
    app = make_app(engine, layout="grid")
    async with app.run_test(size=(200, 50)) as pilot:
        await polled(pilot, engine, polls=2)
        assert made.count("events-table") == made.count("keys-table") == 2
        # the replay hands the last snapshot's very tuples on from here
        await polled(pilot, engine, polls=4)
        assert made.count("events-table") == made.count("keys-table") == 2
        assert table(app, "events-table").ordered_keys[0] in ("17", "18")
        assert table(app, "keys-table").ordered_keys == ["0/session:*", "0/queue:*"]
