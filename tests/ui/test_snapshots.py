"""Snapshot tests (pytest-textual-snapshot) of the main screens, fed from the recorded
PostgreSQL snapshot: fixed terminal sizes, a frozen clock, no cursor blink, no animation,
and both polls shown before the picture is taken. Update with ``--snapshot-update`` after
a deliberate change, and look at the SVGs before committing them."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from tests.ui.conftest import make_app, polled, replay
from tests.ui.recorded import load_snapshots
from tests.waiting import settled


def scenario(keys: Sequence[str] = (), **settings: object):
    engine = replay(load_snapshots())
    app = make_app(engine, **settings)

    async def run_before(pilot) -> None:
        await polled(pilot, engine)
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
        await settled(pilot)  # workers (explain, suggest) finish and the screen settles
        await pilot.wait_for_scheduled_animations()

    return app, run_before


CASES = {
    "sessions": ((), (100, 30), {}),
    "slow_queries": (("2",), (100, 30), {}),
    "indexes": (("3",), (100, 30), {}),
    "lock_tree": (("4",), (100, 30), {}),
    "kill_confirmation": (("4", "k"), (100, 30), {}),
    "plan": (("4", "down", "e"), (100, 30), {}),
    "suggestions": (("i",), (100, 30), {}),
    "help": (("question_mark",), (100, 30), {}),
    "health": (("5",), (100, 30), {}),
    "all_panes": ((), (200, 50), {}),
    "ansi_theme": (("4",), (100, 30), {"theme": "ansi"}),
    "light_theme": ((), (100, 30), {"theme": "light"}),
    "small_terminal": ((), (80, 24), {}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_screen(name: str, snap_compare):
    keys, size, settings = CASES[name]
    app, run_before = scenario(keys, **settings)
    assert snap_compare(app, terminal_size=size, run_before=run_before)
