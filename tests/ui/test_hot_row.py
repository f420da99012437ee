"""PostgreSQL's hot row in the Locks pane: one idle-in-transaction holder, 24 waiters, each
listing the holder and every waiter ahead (pg_blocking_pids). The snapshot is built from the
model: the holder's row first, each waiter once, and the root's kill confirmation says
what ending it frees."""

from __future__ import annotations

import dataclasses

from dbtop.model import LockWait, Snapshot, frozen
from dbtop.ui.screens.confirm import ConfirmScreen
from tests.ui.conftest import make_app, polled, replay
from tests.ui.recorded import load_snapshots
from tests.ui.test_keys import LEAF, ROOT, plain, table

WAITERS = 24


def hot_row_snapshot(snapshot: Snapshot) -> Snapshot:
    holder = snapshot.session(ROOT)
    template = snapshot.session(LEAF)
    assert holder is not None and template is not None
    waiters = [
        dataclasses.replace(template, id=str(20000 + k), blocked_by=(ROOT,))
        for k in range(1, WAITERS + 1)
    ]
    edges = []
    for k, waiter in enumerate(waiters):
        edges.append(LockWait(waiter.id, ROOT, "ExclusiveLock", "tuple", held_mode="X"))
        edges.extend(
            LockWait(waiter.id, ahead.id, "ExclusiveLock", "tuple", extra=frozen(queued_ahead=True))
            for ahead in waiters[:k]
        )
    return dataclasses.replace(snapshot, sessions=(holder, *waiters), lock_waits=tuple(edges))


async def test_locks_pane_shows_the_holder_first_each_waiter_once_and_what_a_kill_frees():
    engine = replay([hot_row_snapshot(s) for s in load_snapshots()])
    app = make_app(engine)
    async with app.run_test(size=(120, 35)) as pilot:
        await polled(pilot, engine)
        await pilot.press("4")
        locks = table(app, "locks-table")
        keys = locks.ordered_keys
        assert keys[0] == ROOT
        assert len(keys) == WAITERS + 1
        assert len({key.rsplit("/", 1)[-1] for key in keys}) == WAITERS + 1
        assert locks.cursor_key == ROOT
        await pilot.press("K")
        assert isinstance(app.screen, ConfirmScreen)
        title = app.screen.query_one("#confirm-box").border_title
        assert f"releases {WAITERS} waiting sessions, {WAITERS} directly" in str(title)
        assert f"releases {WAITERS} waiting sessions" in plain(app.screen._body)
        await pilot.press("n")
        assert engine.kills == []
