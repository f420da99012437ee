"""An inferred lock edge reads as inferred in the Locks pane at 80 columns, where the
optional columns are gone (driven with Pilot on replayed snapshots)."""

from __future__ import annotations

import dataclasses

from dbtop.model import Snapshot, frozen
from tests.ui.conftest import make_app, polled, replay
from tests.ui.test_keys import LEAF, MIDDLE, ROOT, main_screen, table


def _inferred(snapshot: Snapshot) -> Snapshot:
    waits = tuple(
        dataclasses.replace(
            w,
            extra=frozen(w.extra, inferred=True, inferred_reason="open transaction since 12:03:04"),
        )
        if w.waiter == MIDDLE
        else w
        for w in snapshot.lock_waits
    )
    return dataclasses.replace(snapshot, lock_waits=waits)


async def test_locks_pane_says_inferred_on_an_inferred_edge(snapshots):
    engine = replay([_inferred(s) for s in snapshots])
    app = make_app(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await polled(pilot, engine)
        await pilot.press("4")
        assert main_screen(app).active_pane == "locks"
        locks = table(app, "locks-table")
        by_session = {key.rsplit("/", 1)[-1]: key for key in locks.ordered_keys}
        middle = locks.row(by_session[MIDDLE])
        assert middle is not None and middle.cells[2].startswith("inferred: ")
        assert "(inferred: open transaction since 12:03:04)" in middle.cells[3]
        for other in (ROOT, LEAF):
            row = locks.row(by_session[other])
            assert row is not None and "inferred" not in " ".join(map(str, row.cells))
        rendered = "\n".join(
            str(line.text) for line in locks.render_lines(locks.region.reset_offset)
        )
        assert "inferred" in rendered
