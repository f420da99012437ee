"""The overview's row of one target: the cells drawn from its last result are kept while
that result is the last one (a redraw twice a second only recomputes the status), and a
new poll's figures are shown at the next redraw."""

from __future__ import annotations

from dbtop.analysis.lockgraph import build_lock_forest
from dbtop.model import Session
from dbtop.poller import PollResult, PollState, PollStatus
from dbtop.ui.fleet.rows import COLUMNS, row
from tests.unit.test_load import active, snap


def result(*sessions: Session) -> PollResult:
    return PollResult(snap("postgresql", *sessions), build_lock_forest(()), 0.01)


def test_a_new_poll_is_shown_and_the_clock_still_moves_the_status() -> None:
    live = PollStatus(PollState.LIVE, 2.0, last_ok=100.0, connected_once=True)
    first = result(active("1"))
    active_cell = COLUMNS.index("Active")
    before = row("db", live, first, 100.5)
    assert before.cells[active_cell] == "1" and before.state == "live"
    # the same result later: its cells again, the status from the clock
    later = row("db", live, first, 106.0)
    assert later.cells[active_cell] == "1"
    assert later.state == "stale" and later.cells[COLUMNS.index("Status")].startswith("stale")
    # the next poll: its own figures
    second = result(active("1"), active("2"), active("3"))
    assert row("db", live, second, 100.5).cells[active_cell] == "3"
    # another target of the same result keeps its own name
    assert row("other", live, second, 100.5).cells[0] == "other"
