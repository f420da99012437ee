"""Issue 11, item 7: sessions the role may not see are shown as such, never as idle."""

from __future__ import annotations

import dataclasses

from dbtop.model import Session, Snapshot
from tests.ui.conftest import make_app, polled, replay
from tests.ui.test_keys import main_screen, table

HIDDEN_IDS = ("90001", "90002", "90003")


def with_hidden(snapshot: Snapshot) -> Snapshot:
    """Three backends of another role, as a role without pg_monitor reads them."""
    hidden = tuple(
        Session(pid, user="postgres", database="app", hidden="needs pg_monitor")
        for pid in HIDDEN_IDS
    )
    return dataclasses.replace(snapshot, sessions=snapshot.sessions + hidden)


async def test_hidden_sessions_say_why_and_the_header_cannot_count_them(snapshots):
    engine = replay([with_hidden(s) for s in snapshots])
    app = make_app(engine, layout="tabs")
    async with app.run_test(size=(200, 40)) as pilot:
        await polled(pilot, engine)
        t = table(app, "sessions-table")
        for pid in HIDDEN_IDS:
            # shown even while idle sessions are hidden, and the state says why
            assert t.row(pid).cells[6] == "hidden: needs pg_monitor"
        header = main_screen(app).query_one("#header").render().plain
        assert "(+3 hidden)" in header
